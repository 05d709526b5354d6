"""colonies.pyz: build it once with zipapp.sh, then run it with a Python that has none
of the dependencies (a bare `venv --without-pip`, run with -I) from an unrelated cwd,
with HOME, XDG_CACHE_HOME and TMPDIR pointing into a per-test temp dir.

Set COLONIES_PYZ=/path/to/colonies.pyz to test an already built archive.

Test-only tricks (there are no test hooks in packaging/bootstrap.py):
* read-only HOME while running as root: HOME and XDG_CACHE_HOME are put *under a regular
  file*, so makedirs() fails even for root (plus a real read-only tmpfs when we can mount);
* wrong Python: a copy of the built __main__.py whose recorded PY_TAG says cpython-310
  (always), and the real pyz under any other CPython minor version found on this machine;
* noexec: a real tmpfs mounted noexec when we can mount (root); the detection itself is
  also unit-tested by faking os.statvfs in-process.

The TestDevCommand tests need the integrator's `colonies dev` command (colony "dev",
in-process executor of type "cli" serving echo). They are meant to FAIL, not skip, when
`dev` misbehaves.
"""
import os
import re
import runpy
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from server_process import free_port, stop, wait_healthy

REPO = Path(__file__).resolve().parents[1]
BOOTSTRAP = REPO / "packaging" / "bootstrap.py"
VERSION = re.search(r'__version__\s*=\s*"([^"]+)"', (REPO / "colonies_pkg" / "__init__.py").read_text()).group(1)
TAG = sys.implementation.cache_tag  # the pyz is built with this interpreter
USER_KEY = "ddf7f7791208083b6a9ed975a72684f6406a269cfa36f1b1c32045c0a71fff05"  # docker-compose user
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


# --------------------------------------------------------------------------- fixtures

def _index_reachable():
    """pip can download a wheel (from the index, a local mirror or its cache)?"""
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        r = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                            "--only-binary=:all:", "--dest", d, "h11"],
                           capture_output=True, text=True, timeout=300)
        return r.returncode == 0, r.stderr[-2000:]


@pytest.fixture(scope="module")
def pyz(tmp_path_factory):
    if os.environ.get("COLONIES_PYZ"):
        return Path(os.environ["COLONIES_PYZ"]).resolve()
    out = tmp_path_factory.mktemp("build") / "colonies.pyz"
    r = subprocess.run(["bash", str(REPO / "zipapp.sh"), "-o", str(out)],
                       capture_output=True, text=True, timeout=900,
                       env={**os.environ, "PYTHON": sys.executable})
    if r.returncode != 0:
        ok, why = _index_reachable()
        if not ok:
            pytest.skip("pip cannot reach the package index, cannot build colonies.pyz:\n" + why)
        pytest.fail(f"zipapp.sh failed (rc={r.returncode}):\n{r.stdout}\n{r.stderr[-6000:]}")
    return out


@pytest.fixture(scope="module")
def clean_python(tmp_path_factory):
    venv = tmp_path_factory.mktemp("venv") / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    for mod in ("starlette", "uvicorn", "coincurve", "msgspec", "aiosqlite", "croniter"):
        r = subprocess.run([str(py), "-I", "-c", "import " + mod], capture_output=True)
        assert r.returncode != 0, f"the 'clean' python can import {mod}"
    return py


class Box:
    """An isolated place to run the pyz: own HOME, XDG cache, TMPDIR and cwd."""

    def __init__(self, root, py, pyz):
        self.root, self.py, self.pyz = root, py, pyz
        self.home, self.tmp, self.cwd = root / "home", root / "tmp", root / "cwd"
        for d in (self.home, self.tmp, self.cwd):
            d.mkdir()
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
                    "HOME": str(self.home), "XDG_CACHE_HOME": str(self.home / ".cache"),
                    "TMPDIR": str(self.tmp)}

    def argv(self, *args, py=None, flags=("-I",)):
        return [str(py or self.py), *flags, str(self.pyz), *map(str, args)]

    def run(self, *args, env=None, timeout=120, py=None, flags=("-I",)):
        return subprocess.run(self.argv(*args, py=py, flags=flags), cwd=self.cwd,
                              env={**self.env, **(env or {})},
                              capture_output=True, text=True, timeout=timeout)

    def popen(self, *args, env=None, **kw):
        return subprocess.Popen(self.argv(*args), cwd=self.cwd, env={**self.env, **(env or {})}, **kw)

    def block_home(self):
        """Make HOME and XDG_CACHE_HOME unusable, even for root: they sit under a file."""
        blocker = self.root / "blocker"
        blocker.write_text("not a directory\n")
        self.env.update(HOME=str(blocker / "home"), XDG_CACHE_HOME=str(blocker / "cache"))


@pytest.fixture
def box(tmp_path, clean_python, pyz):
    return Box(tmp_path, clean_python, pyz)


def extracted(root):
    return sorted(p.parent for p in Path(root).glob(TAG + "-*/.complete"))


def ok(r, out=None):
    assert r.returncode == 0, f"rc={r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    if out is not None:  # `version` prints "colonies-py 0.1.0"
        assert out in r.stdout.split(), r.stdout


@pytest.fixture
def mount():
    """mount(target, *mount_args): mount, or skip if this sandbox cannot; unmounted after."""
    mounted = []

    def do(target, *args):
        target.mkdir(parents=True, exist_ok=True)
        r = subprocess.run(["mount", *args, str(target)], capture_output=True, text=True)
        if r.returncode != 0:
            pytest.skip("cannot mount here (needs root/CAP_SYS_ADMIN): " + r.stderr.strip())
        mounted.append(target)
        return target

    yield do
    for target in reversed(mounted):
        subprocess.run(["umount", "-l", str(target)], check=False)


def tmpfs(opts):
    return ("-t", "tmpfs", "-o", opts + ",size=128m", "tmpfs")


# --------------------------------------------------------------------------- archive

def test_archive_contents(pyz):
    with zipfile.ZipFile(pyz) as zf:
        assert zf.testzip() is None
        names = zf.namelist()
        assert "__main__.py" in names
        assert any(re.match(r"lib/common/colonies_pkg/storage/migrations/.+\.sql$", n) for n in names)
        assert not any("/bin/" in n or n.startswith("lib/bin/") for n in names)
        py = {n for n in names if n.startswith("lib/") and n.endswith(".py")}
        pyc = {n for n in names if n.endswith(".pyc")}
        missing = [n for n in py if "{}/__pycache__/{}.{}.pyc".format(
            n.rsplit("/", 1)[0], n.rsplit("/", 1)[1][:-3], TAG) not in pyc]
        assert not missing, missing[:10]
        # flags word of the pyc header: 0b01 = hash-based, not checked against the source
        stale = [n for n in pyc if int.from_bytes(zf.read(n)[4:8], "little") != 1]
        assert not stale, stale[:10]
        main = zf.read("__main__.py").decode()
        assert "@BUILD_ID@" not in main and f'PY_TAG = "{TAG}"' in main
    assert pyz.stat().st_size <= 15 * 2**20, "pyz grew to %.1f MiB" % (pyz.stat().st_size / 2**20)


# --------------------------------------------------------------------------- basic runs

def test_version_cold_then_warm(box):
    r = box.run("version")
    ok(r, VERSION)
    assert r.stderr == ""
    (final,) = extracted(box.home / ".cache" / "colonies")
    marker = (final / ".complete").stat()
    assert list(box.cwd.iterdir()) == [], "the pyz wrote into the cwd"
    t = time.monotonic()
    ok(box.run("version"), VERSION)
    assert time.monotonic() - t < 3, "warm run too slow: extracting every time?"
    assert (final / ".complete").stat().st_mtime_ns == marker.st_mtime_ns
    assert extracted(box.home / ".cache" / "colonies") == [final]


def test_help(box):
    r = box.run("--help")
    ok(r)
    assert "usage" in r.stdout.lower()


def test_exit_code_is_passed_through(box):
    r = box.run("no-such-command")
    assert r.returncode not in (0, 70, 73), (r.returncode, r.stderr)


def test_cache_dir_order(box):
    explicit = box.root / "explicit"
    ok(box.run("version", env={"COLONIES_CACHE_DIR": str(explicit)}), VERSION)
    assert extracted(explicit) and not (box.home / ".cache").exists()
    xdg = box.root / "xdg"
    ok(box.run("version", env={"XDG_CACHE_HOME": str(xdg)}), VERSION)
    assert extracted(xdg / "colonies")
    ok(box.run("version", env={"XDG_CACHE_HOME": "relative/ignored"}), VERSION)
    assert extracted(box.home / ".cache" / "colonies") and list(box.cwd.iterdir()) == []


def test_16_simultaneous_first_runs(box):
    # XDG root != ~/.cache/colonies here, so a process that lost the race and fell back
    # to the next root would be visible (with XDG == ~/.cache the same root is retried).
    box.env["XDG_CACHE_HOME"] = str(box.root / "xdg")
    procs = [box.popen("version", stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(16)]
    results = [(*p.communicate(timeout=120), p.returncode) for p in procs]
    for out, err, rc in results:
        assert (rc, VERSION in out.split(), err) == (0, True, "")
    root = box.root / "xdg" / "colonies"
    assert len(extracted(root)) == 1
    assert not list(root.glob(".tmp-*")), "half-extracted copies left behind"
    assert not (box.home / ".cache").exists() and not list(box.tmp.iterdir()), \
        "a process that lost the race fell back to another root"


def test_killed_extraction_leftovers_are_swept(box):
    root = box.home / ".cache" / "colonies"
    old, fresh = root / ".tmp-old-crash", root / ".tmp-maybe-live"
    for d in (old, fresh):
        (d / "common").mkdir(parents=True)
    os.utime(old, (time.time() - 7200,) * 2)
    root.chmod(0o700)
    ok(box.run("version"), VERSION)
    assert not old.exists() and fresh.exists()


# --------------------------------------------------------------------------- fallbacks

def test_readonly_home_falls_back_to_persistent_tmp_cache(box):
    box.block_home()
    r = box.run("version")
    ok(r, VERSION)
    assert r.stderr == "", "a read-only HOME is normal, it deserves no warning"
    tmp_root = box.tmp / (f"colonies-{os.geteuid()}")
    (final,) = extracted(tmp_root)
    assert (tmp_root.stat().st_mode & 0o777) == 0o700
    mtime = (final / ".complete").stat().st_mtime_ns
    ok(box.run("version"), VERSION)  # warm: reuses it, does not extract again
    assert extracted(tmp_root) == [final] and (final / ".complete").stat().st_mtime_ns == mtime


def test_readonly_mounted_home(box, mount):
    ro = mount(box.root / "rohome", *tmpfs("ro"))
    box.env.update(HOME=str(ro), XDG_CACHE_HOME=str(ro / ".cache"))
    ok(box.run("version"), VERSION)
    assert extracted(box.tmp / (f"colonies-{os.geteuid()}"))


def test_preextracted_readonly_explicit_cache(box, mount):
    """An admin extracts once into COLONIES_CACHE_DIR and makes it read-only: still used."""
    shared = box.root / "shared"
    ok(box.run("version", env={"COLONIES_CACHE_DIR": str(shared)}), VERSION)
    mount(shared, "--bind", "-o", "ro", str(shared))
    assert os.statvfs(shared).f_flag & os.ST_RDONLY
    ok(box.run("version", env={"COLONIES_CACHE_DIR": str(shared)}), VERSION)
    assert not (box.home / ".cache").exists(), "did not use the read-only pre-extracted copy"


@pytest.mark.skipif(not IS_ROOT, reason="planting a dir owned by another uid needs root (os.chown)")
@pytest.mark.parametrize("plant", ["foreign-owner", "group-writable", "symlink"])
def test_planted_tmp_cache_dir_is_refused(box, plant):
    box.block_home()  # so that the shared-tmp candidate is the one that gets used
    planted = box.tmp / (f"colonies-{os.geteuid()}")
    elsewhere = box.root / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    if plant == "foreign-owner":
        planted.mkdir(mode=0o700)
        os.chown(planted, 12345, 12345)
        why = "owned by uid 12345"
    elif plant == "group-writable":
        planted.mkdir()
        planted.chmod(0o777)
        why = "writable by group/others"
    else:
        planted.symlink_to(elsewhere)
        why = "not a directory"
    r = box.run("version")
    ok(r, VERSION)
    assert f"not using cache dir {planted}: {why}" in r.stderr, r.stderr
    assert "temporary copy for this run only" in r.stderr
    assert not list(planted.iterdir()) and not list(elsewhere.iterdir())
    assert [p.name for p in box.tmp.iterdir()] == [planted.name], "private copy not removed at exit"


def test_noexec_cache_root_is_skipped(box, mount):
    noexec = mount(box.root / "noexec", *tmpfs("noexec"))
    r = box.run("version", env={"COLONIES_CACHE_DIR": str(noexec)})
    ok(r, VERSION)
    assert f"not using cache dir {noexec}: on a noexec mount" in r.stderr
    assert not extracted(noexec) and extracted(box.home / ".cache" / "colonies")


def test_noexec_detection_unit(tmp_path, monkeypatch):
    """The statvfs check itself, for sandboxes that cannot mount (no root/CAP_SYS_ADMIN)."""
    boot = runpy.run_path(str(BOOTSTRAP))
    real = os.statvfs

    class Fake:
        def __init__(self, st):
            self.f_flag = st.f_flag | os.ST_NOEXEC

    monkeypatch.setattr(os, "statvfs", lambda p: Fake(real(p)) if str(p) == str(tmp_path) else real(p))
    tmp_path.chmod(0o700)
    assert boot["_untrusted"](str(tmp_path), True, False) == "on a noexec mount"
    monkeypatch.setattr(os, "statvfs", real)
    assert boot["_untrusted"](str(tmp_path), False, True) is None


def test_no_usable_cache_dir_at_all(box, mount):
    box.block_home()
    noexec = mount(box.root / "noexec", *tmpfs("noexec"))
    r = box.run("version", env={"TMPDIR": str(noexec)})
    assert r.returncode == 73, r
    assert "COLONIES_CACHE_DIR" in r.stderr and r.stdout == ""


# --------------------------------------------------------------------------- interpreter

def test_wrong_python_version_recorded_tag(box, pyz):
    """A pyz whose recorded tag is cpython-310: the version check runs before anything else."""
    with zipfile.ZipFile(pyz) as zf:
        main = zf.read("__main__.py").decode()
    fake = box.root / "py310.pyz"
    with zipfile.ZipFile(fake, "w") as zf:
        zf.writestr("__main__.py", main.replace(f'PY_TAG = "{TAG}"', 'PY_TAG = "cpython-310"')
                    .replace('PY_VERSION = "{}.{}"'.format(*sys.version_info[:2]), 'PY_VERSION = "3.10"'))
    box.pyz = fake
    r = box.run("version")
    assert r.returncode == 70 and r.stdout == ""
    assert r.stderr.splitlines() == [
        f"colonies: this build needs Python 3.10 (cpython-310), not {sys.version.split()[0]} ({TAG})"]


def _other_pythons():
    found = {}
    cands = [shutil.which(f"python3.{m}") for m in range(8, 15)]
    cands += sorted(str(p) for p in Path.home().glob(".pyenv/versions/3.*/bin/python3"))
    cands += [str(p) for p in Path("/usr/bin").glob("python3.*") if re.fullmatch(r"python3\.\d+", p.name)]
    for c in filter(None, cands):
        r = subprocess.run([c, "-c", "import sys; print(sys.implementation.cache_tag)"],
                           capture_output=True, text=True)
        tag = r.stdout.strip()
        if r.returncode == 0 and tag != TAG and tag not in found:
            found[tag] = c
    return list(found.values())[:2]


def test_wrong_python_version_real_interpreter(box):
    others = _other_pythons()
    if not others:
        pytest.skip("no CPython of another minor version on this machine")
    for py in others:
        r = box.run("version", py=py)
        assert r.returncode == 70, (py, r.returncode, r.stderr)
        lines = r.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(
            "colonies: this build needs Python {}.{} ({}), not ".format(*sys.version_info[:2], TAG)), (py, r.stderr)


def test_other_build_of_same_minor_version(box):
    """e.g. Debian's /usr/bin/python3 (3.11.2) for a pyz built with pyenv's 3.11.7."""
    me = os.path.realpath(sys.executable)
    for cand in ("/usr/bin/python3", "/usr/local/bin/python3", shutil.which("python3")):
        if not cand or os.path.realpath(cand) == me or not os.path.exists(cand):
            continue
        r = subprocess.run([cand, "-c", "import sys; print(sys.implementation.cache_tag)"],
                           capture_output=True, text=True)
        if r.stdout.strip() == TAG:
            ok(box.run("version", py=cand), VERSION)
            return
    pytest.skip(f"no other {TAG} interpreter on this machine")


def test_dont_write_bytecode_uses_shipped_pycs(box):
    ok(box.run("version"), VERSION)
    (final,) = extracted(box.home / ".cache" / "colonies")
    before = {p: p.stat().st_mtime_ns for p in final.rglob("*.pyc")}
    mods = ["uvicorn", "starlette.applications", "coincurve", "msgspec", "aiosqlite", "croniter",
            "websockets", "colonies_pkg", "colonies_pkg.cli", "sqlite3"]
    mods += [m for m in ("uvloop", "httptools") if (final / "plat" / m).is_dir()]  # where wheels exist
    code = "import sys; sys.path[:0] = [{!r}, {!r}]\nimport {}".format(
        str(final / "plat"), str(final / "common"), ", ".join(mods))
    r = subprocess.run([str(box.py), "-s", "-v", "-c", code], cwd=box.cwd, capture_output=True, text=True,
                       env={**box.env, "PYTHONDONTWRITEBYTECODE": "1"}, timeout=60)
    ok(r)
    used = re.findall(r"^# (\S+\.pyc) matches ", r.stderr, re.M)
    compiled = [m for m in re.findall(r"^# code object from '?([^'\n]+)'?$", r.stderr, re.M)
                if m.startswith(str(final)) and m.endswith(".py")]
    assert len([u for u in used if u.startswith(str(final))]) > 50
    assert not compiled, f"compiled from source despite shipped pycs: {compiled[:5]}"
    assert "bytecode is stale" not in r.stderr
    assert {p: p.stat().st_mtime_ns for p in final.rglob("*.pyc")} == before
    t = time.monotonic()
    ok(box.run("version", env={"PYTHONDONTWRITEBYTECODE": "1"}, flags=("-s",)), VERSION)
    assert time.monotonic() - t < 3


# --------------------------------------------------------------------------- dev server
# These depend on the integrator's `dev` command and must fail (not skip) if it misbehaves.

@pytest.mark.slow
class TestDevCommand:
    def test_dev_runs_echo_process_end_to_end(self, box):
        from pycolonies import Colonies, Conditions, FuncSpec

        port, data = free_port(), box.root / "data"
        with open(box.root / "dev.log", "w+") as log:
            proc = box.popen("dev", "--port", port, "--data-dir", data, stdout=log, stderr=subprocess.STDOUT)
            try:
                wait_healthy(port, proc, box.root / "dev.log", timeout=60)
                colonies = Colonies("127.0.0.1", port)
                spec = FuncSpec(funcname="echo", args=["hi"],
                                conditions=Conditions(colonyname="dev", executortype="cli"),
                                maxexectime=10, maxretries=0)
                process = colonies.submit_func_spec(spec, USER_KEY)
                done = colonies.wait(process, 20, USER_KEY)
                assert done.state == 2, done
                assert done.output == ["hi"], done
            finally:
                stop(proc, signal.SIGTERM, timeout=15)
        assert list(box.cwd.iterdir()) == []

    def test_dev_no_executor_starts_from_clean_python(self, box):
        port = free_port()
        with open(box.root / "dev.log", "wb") as log:
            proc = box.popen("dev", "--no-executor", "--port", port, "--data-dir", box.root / "data",
                             stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_healthy(port, proc, box.root / "dev.log", timeout=60)
        finally:
            stop(proc, signal.SIGTERM, timeout=15)
