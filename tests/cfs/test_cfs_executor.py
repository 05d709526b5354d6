"""The executor side of CFS: `spec.fs` parsing (seed 002's object form and pycolonies' strings),
and `run_with_fs` driving a real process on the dev server: labels synced into the mount before
the run, outputs synced back after it, snapshots mounted read-only, local files cleaned up."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from colonies_pkg.cfs import CFS, CFSError
from colonies_pkg.cfs.mount import FsSpec, Mount, run_with_fs
from colonies_pkg.objectstore.router import store_from_env

KEY = "ddf7f7791208083b6a9ed975a72684f6406a269cfa36f1b1c32045c0a71fff05"  # dev user = executor dev-docker

SEED_FS = {  # seed 002's function spec
    "mount": "/cfs",
    "snapshots": [
        {"snapshotid": "test_snapshotid1", "label": "test_label1", "dir": "test_dir1", "keepfiles": False,
         "keepsnapshot": False},
        {"snapshotid": "test_snapshotid2", "label": "test_label2", "dir": "test_dir2", "keepfiles": True,
         "keepsnapshot": True}],
    "dirs": [
        {"label": "test_label1", "dir": "test_dir1", "keepfiles": False,
         "onconflicts": {"onstart": {"keeplocal": False}, "onclose": {"keeplocal": False}}},
        {"label": "test_label2", "dir": "test_dir2", "keepfiles": False,
         "onconflicts": {"onstart": {"keeplocal": False}, "onclose": {"keeplocal": False}}}],
}


def test_parse_object_form():
    spec = FsSpec.parse(SEED_FS)
    assert spec.mount == "/cfs"
    assert [(d.label, d.dir, d.keepfiles, d.onstart_keeplocal, d.onclose_keeplocal) for d in spec.dirs] == [
        ("/test_label1", "test_dir1", False, False, False), ("/test_label2", "test_dir2", False, False, False)]
    assert [(s.snapshotid, s.dir, s.keepfiles, s.keepsnapshot) for s in spec.snapshots] == [
        ("test_snapshotid1", "test_dir1", False, False), ("test_snapshotid2", "test_dir2", True, True)]


def test_parse_defaults_and_string_form():
    spec = FsSpec.parse({"mount": "/cfs", "dirs": ["/myfiles", "data:/in"], "snapshots": ["snap1:/s"]})
    assert [(d.label, d.dir, d.onstart_keeplocal, d.onclose_keeplocal) for d in spec.dirs] == [
        ("/myfiles", "myfiles", False, True), ("/data", "in", False, True)]
    assert [(s.snapshotid, s.dir) for s in spec.snapshots] == [("snap1", "s")]
    d = FsSpec.parse({"dirs": [{"label": "/myfiles", "dir": "/myfiles"}]}).dirs[0]
    assert (d.dir, d.keepfiles, d.onstart_keeplocal, d.onclose_keeplocal) == ("myfiles", False, False, True)
    assert FsSpec.parse(None).empty and FsSpec.parse({"mount": "", "snapshots": None, "dirs": None}).empty


@pytest.mark.parametrize("bad", [{"dirs": [{"label": "/x", "dir": "../../etc"}]}, {"dirs": ["/x:/a/../../b"]},
                                 {"dirs": [{"dir": "x"}]}, {"snapshots": [{"dir": "x"}]}])
def test_parse_rejects_unsafe_or_incomplete_entries(bad):
    with pytest.raises(CFSError):
        FsSpec.parse(bad)


def test_mount_translates_spec_paths(tmp_path):
    m = Mount(str(tmp_path), "/cfs")
    assert m.resolve("/cfs/myfiles/hello.txt") == str(tmp_path / "myfiles" / "hello.txt")
    assert m.resolve("/cfs") == str(tmp_path)
    assert m.resolve("/cfsx/a") == "/cfsx/a" and m.resolve("/etc/passwd") == "/etc/passwd"
    assert m.translate(["cat", "/cfs/a", 3]) == ["cat", str(tmp_path / "a"), 3]
    with pytest.raises(CFSError):
        m.resolve("/cfs/../etc/passwd")
    assert m.env() == {"COLONIES_CFS_MOUNT": str(tmp_path), "COLONIES_CFS_MOUNT_NAME": "/cfs"}


# --- a tiny executor loop on the dev server ----------------------------------------------------
@pytest.fixture
def executor(dev, request) -> Any:
    """(run_one, cfs): run_one(spec, fn) submits `spec`, assigns it as dev-docker, runs `fn`
    inside run_with_fs as SampleExecutor.run_one would, and closes the process."""
    client = dev.client()
    env: dict[str, str] = {}
    cfs = CFS(client, store_from_env(client, "dev", KEY, env), "dev", KEY)
    root = request.getfixturevalue("tmp_path") / "cfs-mounts"
    logs: list[str] = []

    def run_one(spec: dict[str, Any], fn) -> dict[str, Any]:
        spec = {"funcname": "cfs-test", "maxwaittime": -1, "maxexectime": -1, "maxretries": 0,
                "conditions": {"colonyname": "dev", "executortype": "cli"}, **spec}
        client.rpc({"msgtype": "submitfuncspecmsg", "spec": spec}, KEY)
        process = client.rpc({"msgtype": "assignprocessmsg", "colonyname": "dev", "timeout": 5}, KEY, timeout=20)
        pid = process["processid"]
        try:
            out = run_with_fs(client, lambda: store_from_env(client, "dev", KEY, env), "dev", KEY,
                              process["spec"], lambda mount: fn(mount), processid=pid, root=str(root),
                              log=logs.append)
        except Exception as exc:
            client.rpc({"msgtype": "closefailedmsg", "processid": pid, "errors": [str(exc)]}, KEY)
            return {"error": exc, "processid": pid}
        client.rpc({"msgtype": "closesuccessfulmsg", "processid": pid, "out": out or []}, KEY)
        return {"out": out, "processid": pid}

    run_one.cfs, run_one.root, run_one.logs = cfs, root, logs  # type: ignore[attr-defined]
    return run_one


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_process_reads_a_label_and_its_output_lands_in_cfs(executor, label, tmp_path):
    cfs: CFS = executor.cfs
    cfs.upload(str(_write(tmp_path / "hello.txt", "Hello world\n")), label)
    spec = {"kwargs": {"cmd": "cat", "args": [f"/cfs{label}/hello.txt"]},
            "fs": {"mount": "/cfs", "dirs": [{"label": label, "dir": label, "keepfiles": False,
                                              "onconflicts": {"onstart": {"keeplocal": False},
                                                              "onclose": {"keeplocal": True}}}]}}
    seen: dict[str, Any] = {}

    def fn(mount: Mount) -> list[str]:
        seen["mount"] = mount.path
        text = Path(mount.resolve(f"/cfs{label}/hello.txt")).read_text()
        _write(Path(mount.resolve(f"/cfs{label}/result.txt")), text.upper())
        _write(Path(mount.resolve(f"/cfs{label}/sub/more.txt")), "more")
        return [text]

    result = executor(spec, fn)
    assert result["out"] == ["Hello world\n"]
    tmp = tmp_path / "check"
    cfs.download(cfs.latest(label, "result.txt"), str(tmp))
    assert tmp.read_text() == "HELLO WORLD\n"
    assert cfs.latest(f"{label}/sub", "more.txt").size == 4
    assert len(cfs.versions(label, "hello.txt")) == 1  # unchanged input is not re-uploaded
    assert not os.path.exists(seen["mount"])  # keepfiles false: the local copy is gone
    assert any("files synced" in line for line in executor.logs)
    process = cfs.client.rpc({"msgtype": "getprocessmsg", "processid": result["processid"]}, KEY)
    assert process["state"] == 2


def test_failed_run_uploads_nothing_and_cleans_up(executor, label, tmp_path):
    spec = {"fs": {"mount": "/cfs", "dirs": [label]}}  # pycolonies' string form
    seen: dict[str, str] = {}

    def fn(mount: Mount) -> list[str]:
        seen["mount"] = mount.path
        _write(Path(mount.path) / label.strip("/") / "partial.txt", "half")
        raise RuntimeError("boom")

    result = executor(spec, fn)
    assert "boom" in str(result["error"])
    assert executor.cfs.versions(label, "partial.txt") == []
    assert not os.path.exists(seen["mount"])


def test_snapshots_are_mounted_read_only(executor, label, tmp_path):
    cfs: CFS = executor.cfs
    cfs.upload(str(_write(tmp_path / "in.txt", "input v1")), label)
    named = cfs.create_snapshot(label, f"named-{label[3:]}")
    cfs.upload(str(_write(tmp_path / "in.txt", "input v2")), label)  # after the snapshot
    spec = {"fs": {"mount": "/cfs", "snapshots": [
        {"snapshotid": named.snapshotid, "dir": "/pinned", "keepfiles": False},
        {"label": label, "dir": "/fresh", "keepfiles": True, "keepsnapshot": False}]}}
    seen: dict[str, Any] = {}

    def fn(mount: Mount) -> list[str]:
        pinned, fresh = Path(mount.resolve("/cfs/pinned/in.txt")), Path(mount.resolve("/cfs/fresh/in.txt"))
        seen.update(mount=mount.path, pinned=pinned, fresh=fresh, mode=pinned.stat().st_mode & 0o777,
                    snapshots=[s.name for s in cfs.snapshots()])
        return [pinned.read_text(), fresh.read_text()]

    result = executor(spec, fn)
    assert result["out"] == ["input v1", "input v2"]
    assert seen["mode"] == 0o444
    assert any(name.startswith(f"process-{result['processid']}") for name in seen["snapshots"])
    # the snapshot the executor made is removed; the named one (not ours) is kept
    names = [s.name for s in cfs.snapshots()]
    assert named.name in names and not any(n.startswith(f"process-{result['processid']}") for n in names)
    assert not seen["pinned"].exists() and seen["fresh"].read_text() == "input v2"  # keepfiles
    cfs.remove_snapshot(snapshotid=named.snapshotid)


def test_spec_without_fs_runs_plainly(executor):
    result = executor({"fs": {"mount": "", "snapshots": None, "dirs": None}}, lambda mount: [mount is None])
    assert result["out"] == [True]


def test_unknown_snapshot_fails_the_process_before_it_runs(executor):
    ran: list[bool] = []
    result = executor({"fs": {"snapshots": [{"snapshotid": "no-such-snapshot", "dir": "/x"}]}},
                      lambda mount: ran.append(True))
    assert "no-such-snapshot" in str(result["error"]) and not ran
    assert list(executor.root.iterdir()) == []


def test_cleanup_copes_with_read_only_directories(executor, label):
    def fn(mount: Mount) -> list[str]:
        locked = Path(mount.path) / "locked"
        _write(locked / "f.txt", "x")
        os.chmod(locked, 0o555)
        return []

    result = executor({"fs": {"dirs": [{"label": label, "dir": "/d", "keepfiles": False}]}}, fn)
    assert result["out"] == [] and list(executor.root.iterdir()) == []
