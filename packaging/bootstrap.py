"""colonies.pyz bootstrap: copied into the archive as __main__.py by zipapp.sh.

Extension modules (coincurve, msgspec, uvloop, ...) cannot be imported from a
zip, so the bundled tree is extracted once into a per-build cache directory
and imported from there; later starts only stat() a marker file. Build side
and layout: see zipapp.sh. Tested by tests/test_zipapp.py.

Only os and sys are used on the warm path; zipfile/tempfile/shutil/fcntl are
imported lazily because each costs milliseconds on every start.
The @NAME@ constants are filled in by zipapp.sh; this file also imports
cleanly without them so tests can exercise the helpers directly.
"""
import os
import sys

BUILD_ID = "@BUILD_ID@"      # hash of the bundled lib/ tree: new build -> new dir
PY_TAG = "@PY_TAG@"          # sys.implementation.cache_tag of the build, "cpython-311"
PY_VERSION = "@PY_VERSION@"  # "3.11", for the error message only
PLATFORMS = "@PLATFORMS@"    # comma-separated platform keys bundled under lib/plat/

EX_SOFTWARE, EX_CANTCREAT = 70, 73


def _say(msg):
    sys.stderr.write("colonies: %s\n" % msg)


def platform_key():
    """'linux-x86_64-gnu', 'linux-aarch64-musl', 'darwin-arm64', ... (zipapp.sh uses it too)."""
    if hasattr(os, "uname"):
        machine = os.uname().machine.lower()
    else:  # Windows
        import platform
        machine = platform.machine().lower()
    machine = {"amd64": "x86_64", "arm64": "aarch64" if sys.platform.startswith("linux") else "arm64"}.get(machine, machine)
    key = "%s-%s" % ("win" if sys.platform == "win32" else sys.platform, machine)
    if sys.platform.startswith("linux"):
        try:  # glibc answers this; musl either raises or returns None
            libc = "gnu" if os.confstr("CS_GNU_LIBC_VERSION") else "musl"
        except (ValueError, OSError):
            libc = "musl"
        key += "-" + libc
    return key


def _candidates():
    """Yield (root, explicit, shared) in priority order; tempfile only imported if reached."""
    env = os.environ.get
    if env("COLONIES_CACHE_DIR"):
        # Explicit choice: trusted even if another user owns it, so an admin can
        # pre-extract one shared read-only copy.
        yield os.path.abspath(env("COLONIES_CACHE_DIR")), True, False
    xdg = env("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):  # the XDG spec says relative values must be ignored
        yield os.path.join(xdg, "colonies"), False, False
    home = os.path.expanduser("~")
    if home != "~":  # "~" comes back unchanged for a uid with no HOME/passwd entry
        yield os.path.join(home, ".cache", "colonies"), False, False
    import tempfile
    # Per-uid name in a shared, world-writable dir: it must be ours (see _untrusted).
    yield os.path.join(tempfile.gettempdir(), "colonies-%d" % _uid()), False, True


def _uid():
    return os.geteuid() if hasattr(os, "geteuid") else 0


def _untrusted(root, explicit, shared):
    """Why `root` must not be used, or None. Raises OSError if it does not exist."""
    # In a shared dir a planted symlink could redirect us, so do not follow it there.
    st = os.stat(root, follow_symlinks=not shared)
    if not explicit and hasattr(os, "geteuid"):
        if not (st.st_mode & 0o170000 == 0o040000):
            return "not a directory"
        # Whoever can write here can replace the code we are about to run.
        if st.st_uid != _uid():
            return "owned by uid %d, not %d" % (st.st_uid, _uid())
        if st.st_mode & 0o022:
            return "writable by group/others (mode %o)" % (st.st_mode & 0o777)
    # dlopen() of an extension module fails on a noexec mount ("failed to map segment").
    if hasattr(os, "statvfs") and os.statvfs(root).f_flag & getattr(os, "ST_NOEXEC", 0):
        return "on a noexec mount"
    return None


def _extract(archive, dest, key):
    """Extract lib/common and lib/plat/<key> of the archive into dest/common, dest/plat."""
    import zipfile
    prefixes = (("lib/common/", "common"), ("lib/plat/%s/" % key, "plat"))
    made = set()
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            for prefix, sub in prefixes:
                if info.filename.startswith(prefix):
                    break
            else:
                continue
            rel = info.filename[len(prefix):]
            if not rel or rel.endswith("/"):
                continue
            if rel.startswith("/") or ".." in rel.split("/"):  # never write outside dest
                raise OSError("bad member name in archive: %r" % info.filename)
            path = os.path.join(dest, sub, *rel.split("/"))
            parent = os.path.dirname(path)
            if parent not in made:
                os.makedirs(parent, exist_ok=True)
                made.add(parent)
            with open(path, "wb") as out:
                out.write(zf.read(info))
    # Written last and renamed into place with the tree: its presence means "complete".
    open(os.path.join(dest, ".complete"), "wb").close()


def _install(root, tag, archive, key):
    """Cold path for one root: returns the final dir, or raises OSError."""
    import shutil
    import tempfile
    final = os.path.join(root, tag)
    lock = None
    try:
        import fcntl
        # The lock only stops concurrent first runs from all doing the same work;
        # correctness comes from the atomic rename, so any failure here is ignored.
        lock = os.open(os.path.join(root, ".%s.lock" % tag), os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(lock, fcntl.LOCK_EX)
    except (ImportError, OSError):
        pass
    try:
        if os.path.exists(os.path.join(final, ".complete")):
            return final  # another process finished while we waited for the lock
        _sweep(root)
        tmp = tempfile.mkdtemp(prefix=".tmp-%s-" % tag, dir=root)
        try:
            _extract(archive, tmp, key)
            # mkdtemp made it 0700; the root's own mode is what keeps others out, and
            # this lets an admin share a copy pre-extracted into $COLONIES_CACHE_DIR.
            os.chmod(tmp, 0o755)
            try:
                os.rename(tmp, final)
            except OSError:
                if not os.path.exists(os.path.join(final, ".complete")):
                    raise
                # Lost a race (no lock available): use the winner's identical copy.
        finally:
            shutil.rmtree(tmp, ignore_errors=True)  # no-op after a successful rename
        return final
    finally:
        if lock is not None:
            os.close(lock)


def _sweep(root):
    """Remove .tmp-* left by runs killed mid-extraction (older than an hour: not live)."""
    import shutil
    import time
    for entry in os.scandir(root):
        try:
            if entry.name.startswith(".tmp-") and time.time() - entry.stat().st_mtime > 3600:
                shutil.rmtree(entry.path, ignore_errors=True)
        except OSError:
            pass


def locate(archive):
    """Return the extracted dir for this build, extracting it if needed."""
    key = platform_key()
    if key not in PLATFORMS.split(","):
        _say("this build has no bundled binaries for %s (it has: %s)" % (key, PLATFORMS))
        raise SystemExit(EX_SOFTWARE)
    tag = "%s-%s-%s" % (PY_TAG, key, BUILD_ID)
    roots = []
    # Warm path: one or two stat() calls per root, no writes (so read-only caches work).
    # Consumed lazily: the usual hit on ~/.cache never pays for importing tempfile.
    for root, explicit, shared in _candidates():
        roots.append((root, explicit, shared))
        try:
            if os.path.exists(os.path.join(root, tag, ".complete")) and not _untrusted(root, explicit, shared):
                return os.path.join(root, tag)
        except OSError:
            pass
    tried = []
    for root, explicit, shared in roots:
        try:
            os.makedirs(root, 0o700, exist_ok=True)
            why = _untrusted(root, explicit, shared)
            if why:
                _say("not using cache dir %s: %s" % (root, why))
                tried.append("%s (%s)" % (root, why))
                continue
            return _install(root, tag, archive, key)
        except OSError as e:
            tried.append("%s (%s)" % (root, e.strerror or e))
    # Last resort: a private copy for this run only, removed at exit (cold every time).
    import atexit
    import shutil
    import tempfile
    try:
        tmp = tempfile.mkdtemp(prefix="colonies-run-")
        atexit.register(shutil.rmtree, tmp, True)
        why = _untrusted(tmp, False, True)
        if why:
            raise OSError(why)
        _extract(archive, tmp, key)
    except OSError as e:
        tried.append("private temp dir (%s)" % (getattr(e, "strerror", None) or e))
        _say("cannot extract the bundled libraries; tried: %s. Set COLONIES_CACHE_DIR "
             "to a writable directory on a filesystem that allows exec." % "; ".join(tried))
        raise SystemExit(EX_CANTCREAT)
    _say("warning: no usable cache dir, using a temporary copy for this run only "
         "(set COLONIES_CACHE_DIR to make starts fast)")
    return tmp


def main():
    # Check the interpreter first: a cp311 extension module fails obscurely on 3.12.
    # (getattr: even Python 2 should get the message rather than a traceback)
    tag = getattr(getattr(sys, "implementation", None), "cache_tag", None)
    if tag != PY_TAG:
        _say("this build needs Python %s (%s), not %s (%s)" % (
            PY_VERSION, PY_TAG, sys.version.split()[0], tag))
        raise SystemExit(EX_SOFTWARE)
    archive = os.path.dirname(os.path.abspath(__file__))  # .../colonies.pyz
    final = locate(archive)
    # Prepend, so a polluted site-packages cannot shadow the bundled versions, and
    # drop the archive so nothing is imported from the zip by accident.
    sys.path[:] = [os.path.join(final, "plat"), os.path.join(final, "common")] + [
        p for p in sys.path if os.path.abspath(p) != archive]
    from colonies_pkg.cli import main as cli_main
    raise SystemExit(cli_main())


# multiprocessing "spawn" children re-run this file as __mp_main__: they inherit
# sys.path from the parent and must not start the CLI again.
if __name__ == "__main__":
    main()
