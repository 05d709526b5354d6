"""`colonies fs …` as a user runs it: subprocesses of `python -m colonies_pkg.cli.fs` against the
dev server, with contents on the server itself and on S3 (moto); every command of the guide,
the prompts, --dry, and bad S3 settings (one error line, no file metadata added)."""
from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from colonies_pkg.cfs import Transfer
from colonies_pkg.cli.fs import Progress, fmt_bytes

KEY = "ddf7f7791208083b6a9ed975a72684f6406a269cfa36f1b1c32045c0a71fff05"


class Fs:
    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env, self.cwd = env, cwd

    def __call__(self, *args: str, input: str | None = None, ok: bool = True) -> subprocess.CompletedProcess[str]:
        r = subprocess.run([sys.executable, "-m", "colonies_pkg.cli.fs", *args], cwd=self.cwd, env=self.env,
                           input=input if input is not None else "", capture_output=True, text=True, timeout=60)
        if ok:
            assert r.returncode == 0, f"fs {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}"
        return r


@pytest.fixture(params=["server", "s3"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def fs(request: pytest.FixtureRequest, dev, backend, tmp_path) -> Fs:
    env = dev.env()
    if backend == "s3":
        env.update(request.getfixturevalue("moto").env())
    return Fs(env, tmp_path)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def object_exists(backend: str, request: pytest.FixtureRequest, sha: str) -> bool:
    if backend == "server":
        return request.getfixturevalue("dev").blob_path(sha).exists()
    from minio.error import S3Error

    moto = request.getfixturevalue("moto")
    try:
        moto.minio().stat_object(moto.bucket, sha)
        return True
    except S3Error:
        return False


def test_guide_walkthrough(fs, backend, label, tmp_path, request):
    tag = uuid.uuid4().hex[:4]  # unique content: objects are shared by content across tests
    hello, hello2 = f"Hel{tag}\n", f"Hello {tag}\n"
    write(tmp_path / "myfiles" / "hello.txt", hello)
    write(tmp_path / "myfiles" / "subdir" / "hello2.txt", hello2)

    r = fs("sync", "-l", label.lstrip("/"), "-d", "myfiles", "--yes")
    assert "Calculating sync plans" in r.stderr
    assert "Conflict resolution=replace-remote Conflicts=0 Download=0 Upload=2" in r.stderr
    assert f"Uploading {label}/hello.txt ... done! [8B]" in r.stdout
    assert f"Uploading {label}/subdir/hello2.txt ... done! [11B]" in r.stdout

    r = fs("sync", "-l", label, "-d", "myfiles2", "--yes")
    assert "Download=2 Upload=0" in r.stderr
    assert f"Downloading {tmp_path / 'myfiles2' / 'subdir' / 'hello2.txt'} ... done! [11B]" in r.stdout
    assert (tmp_path / "myfiles2" / "subdir" / "hello2.txt").read_text() == hello2
    assert "nothing to do" in fs("sync", "-l", label, "-d", "myfiles2", "--yes").stderr

    out = fs("label", "ls").stdout
    assert "| LABEL" in out and f"| {label} " in out and f"| {label}/subdir " in out

    out = fs("ls", "-l", label).stdout
    assert "FILENAME" in out and "LATEST ID" in out and "REVISIONS" in out
    row = next(line for line in out.splitlines() if "hello.txt" in line)
    cells = [c.strip() for c in row.strip("|").split("|")]
    fileid = cells[2]
    assert cells[0] == "hello.txt" and cells[1] == "0 KiB" and len(fileid) == 64 and cells[4] == "1"

    out = fs("info", "-l", label, "-n", "hello.txt").stdout
    sha = hashlib.sha256(hello.encode()).hexdigest()
    for text in ("| Filename        | hello.txt", f"| FileId          | {fileid}", f"| Checksum        | {sha}",
                 "| Checksum Alg    | SHA256", "| S3 Accesskey    | ****", "| Encryption Key  | ****",
                 f"| Protocol        | {'s3' if backend == 's3' else 'colonies'}", f"| Label           | {label} "):
        assert text in out, out
    if backend == "s3":
        moto = request.getfixturevalue("moto")
        assert moto.secretkey not in out and moto.accesskey not in out
        assert f"| S3 Endpoint     | {moto.endpoint}" in out and f"| S3 Bucket       | {moto.bucket}" in out

    r = fs("get", "-l", label, "-n", "hello.txt", "-d", "newdir")
    assert "Downloading hello.txt ... done! [8B]" in r.stdout
    assert (tmp_path / "newdir" / "hello.txt").read_text() == hello
    fs("get", "-i", fileid, "-d", "newdir2")
    assert (tmp_path / "newdir2" / "hello.txt").read_text() == hello

    snap = f"snap-{uuid.uuid4().hex[:8]}"
    r = fs("snapshot", "create", "-l", label, "-n", snap)
    assert "Snapshot created" in r.stderr and f"Label={label}/" in r.stderr
    assert "| SnapshotId" in r.stdout and "hello2.txt" in r.stdout and "FILEID" in r.stdout

    r = fs("remove", "-l", label, "-n", "hello.txt")
    assert "Removed file (local file is not removed)" in r.stderr
    assert "No files found" in fs("ls", "-l", label).stderr
    assert object_exists(backend, request, sha)  # the snapshot still needs it

    fs("snapshot", "download", "-n", snap, "-d", "downloaded_snapshot")
    assert (tmp_path / "downloaded_snapshot" / "hello.txt").read_text() == hello
    assert (tmp_path / "downloaded_snapshot" / "subdir" / "hello2.txt").read_text() == hello2

    out = fs("snapshot", "ls").stdout
    assert "SNAPSHOTID" in out
    row = next(line for line in out.splitlines() if f"| {snap} " in line)
    assert f"| {label} " in row and "| 2 " in row
    out = fs("snapshot", "info", "-n", snap).stdout
    assert f"| Name       | {snap}" in out and "hello.txt" in out

    r = fs("label", "remove", "-l", f"{label}/subdir", input="yes\n")
    assert f"All files with label <{label}/subdir/*> will be removed." in r.stdout
    assert "Are you sure you want to continue? (yes,no):" in r.stdout
    assert f"{label}/subdir" not in fs("label", "ls").stdout

    r = fs("snapshot", "remove", "-n", snap)
    assert "Snapshot removed" in r.stderr and f"SnapshotName={snap}" in r.stderr
    assert not object_exists(backend, request, sha)  # nothing refers to it any more: deleted
    assert not object_exists(backend, request, hashlib.sha256(hello2.encode()).hexdigest())


def test_sync_dry_prompt_and_conflicts(fs, label, tmp_path):
    write(tmp_path / "d" / "a.txt", "local a")
    r = fs("sync", "-l", label, "-d", "d", "--dry")
    assert "These files will be uploaded:" in r.stdout and "a.txt" in r.stdout
    assert "No labels found" in fs("label", "ls").stderr or label not in fs("label", "ls").stdout

    r = fs("sync", "-l", label, "-d", "d", input="no\n", ok=False)
    assert r.returncode == 1 and "Are you sure you want to continue? (yes,no):" in r.stdout
    assert "Add --syncplans flag" in r.stderr and "aborted" in r.stderr
    assert label not in fs("label", "ls").stdout

    r = fs("sync", "-l", label, "-d", "d", "--syncplans", input="yes\n")
    assert "These files will be uploaded:" in r.stdout and f"Uploading {label}/a.txt ... done!" in r.stdout

    write(tmp_path / "other" / "a.txt", "other a")  # a conflict, seen from another directory
    r = fs("sync", "-l", label, "-d", "other", "--keeplocal=false", "--dry")
    assert "Conflict resolution=replace-local Conflicts=1 Download=0 Upload=0" in r.stderr
    assert "These files will be replaced at directory:" in r.stdout
    assert (tmp_path / "other" / "a.txt").read_text() == "other a"  # --dry changed nothing
    fs("sync", "-l", label, "-d", "other", "--keeplocal=false", "--yes")
    assert (tmp_path / "other" / "a.txt").read_text() == "local a"

    write(tmp_path / "other" / "a.txt", "other again")
    r = fs("sync", "-l", label, "-d", "other", "--keeplocal", "--yes")
    assert "Conflict resolution=replace-remote Conflicts=1" in r.stderr
    out = fs("ls", "-l", label).stdout
    assert next(line for line in out.splitlines() if "a.txt" in line).rstrip("| ").endswith("2")
    fs("label", "remove", "-l", label, "--yes")


def test_dry_download_creates_nothing(fs, label, tmp_path):
    write(tmp_path / "src" / "f.txt", "f")
    fs("sync", "-l", label, "-d", "src", "--yes")
    r = fs("sync", "-l", label, "-d", "fresh", "--dry")
    assert "These files will be downloaded to directory:" in r.stdout
    assert not (tmp_path / "fresh").exists()
    fs("label", "remove", "-l", label, "--yes")


def test_snapshot_removeall_asks(dev, tmp_path, label):
    fs = Fs(dev.env(), tmp_path)
    write(tmp_path / "s" / "x.txt", "x")
    fs("sync", "-l", label, "-d", "s", "--yes")
    fs("snapshot", "create", "-l", label, "-n", f"ra-{label[3:]}")
    r = fs("snapshot", "removeall", input="no\n", ok=False)
    assert r.returncode == 1
    assert "WARNING!!! Are you sure you want to remove all snapshots in colony <dev>." in r.stdout
    assert "(YES,no):" in r.stdout
    assert f"ra-{label[3:]}" in fs("snapshot", "ls").stdout
    assert "All snapshots removed" in fs("snapshot", "removeall", input="YES\n").stderr
    assert "No snapshots found" in fs("snapshot", "ls").stderr
    fs("label", "remove", "-l", label, "--yes")


def test_help_shows_environment(dev, tmp_path):
    fs = Fs(dev.env(), tmp_path)
    assert "AWS_S3_ENDPOINT" in fs("--help").stdout
    out = fs("sync", "--help").stdout
    for text in ("COLONIES_SERVER_HOST", "COLONIES_PRVKEY", "COLONIES_COLONY_NAME", "AWS_S3_BUCKET", "--keeplocal"):
        assert text in out
    for sub in ("ls", "info", "get", "remove", "label", "snapshot"):
        fs(sub, "--help")
    for sub in ("create", "download", "ls", "info", "remove", "removeall"):
        fs("snapshot", sub, "--help")


def _one_error(r: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert r.returncode == 1, (r.stdout, r.stderr)
    errors = [line for line in r.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in r.stderr, r.stderr
    for n in needles:
        assert n in errors[0], errors[0]
    return errors[0]


@pytest.mark.parametrize("case", ["missing bucket", "wrong credentials", "unreachable endpoint"])
def test_bad_s3_settings(dev, moto, tmp_path, label, case):
    import socket

    if case == "missing bucket":
        env, needle = moto.env(AWS_S3_BUCKET="no-such-bucket"), "bucket 'no-such-bucket' does not exist"
    elif case == "wrong credentials":
        env, needle = moto.env(AWS_S3_SECRETKEY="wrong"), "check AWS_S3_ACCESSKEY and AWS_S3_SECRETKEY"
    else:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        env, needle = moto.env(AWS_S3_ENDPOINT=f"127.0.0.1:{port}"), "cannot reach S3 endpoint"
    bad = Fs({**dev.env(), **env}, tmp_path)
    write(tmp_path / "d" / "x.txt", f"x {label}")
    _one_error(bad("sync", "-l", label, "-d", "d", "--yes", ok=False), needle)
    good = Fs({**dev.env(), **moto.env()}, tmp_path)
    assert "No files found" in good("ls", "-l", label).stderr  # no metadata was added
    if case == "wrong credentials":  # downloads of s3 refs use the same credentials
        good("sync", "-l", label, "-d", "d", "--yes")
        _one_error(bad("get", "-l", label, "-n", "x.txt", "-d", "out", ok=False), needle)
        assert not (tmp_path / "out" / "x.txt").exists()
        good("label", "remove", "-l", label, "--yes")


def test_errors_without_s3(dev, tmp_path, label):
    fs = Fs(dev.env(), tmp_path)
    _one_error(fs("get", "-l", label, "-n", "nope.txt", ok=False), "no file nope.txt")
    _one_error(fs("info", "-i", "0" * 64, ok=False), "no file with id")
    _one_error(fs("remove", "-l", label, ok=False), "give a file id")
    _one_error(fs("snapshot", "info", "-n", "no-such-snapshot", ok=False), "no-such-snapshot")
    env = {k: v for k, v in dev.env().items() if k != "COLONIES_PRVKEY"}
    _one_error(Fs(env, tmp_path)("label", "ls", ok=False), "COLONIES_PRVKEY")
    write(tmp_path / "d" / "x.txt", "x")
    _one_error(Fs({**dev.env(), "COLONIES_SERVER_PORT": "1"}, tmp_path)("sync", "-l", label, "-d", "d", "--yes",
                                                                         ok=False), "cannot reach")


def test_progress_bar_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    p = Progress(out)
    t = Transfer("upload", "/l", "big.bin", "/tmp/big.bin", 3 * 1024 * 1024, "")
    p(t, "start", 0)
    for _ in range(3):
        p._last = 0.0  # draw every step
        p(t, "bytes", 1024 * 1024)
    p(t, "done", t.size)
    text = out.getvalue()
    assert "\rUploading /l/big.bin  33% [" in text and "100% [" in text
    assert "Uploading /l/big.bin ... done! [3.0MiB]" in text
    assert fmt_bytes(6) == "6B" and fmt_bytes(1536) == "1.5KiB"
