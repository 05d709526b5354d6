"""Making committed WAL frames durable outside the GIL: the fsync half of the writer's group commit.

With `synchronous=FULL` SQLite syncs the WAL inside every COMMIT, so the single writer commits in
its own thread, and that thread needs the GIL before it can even begin: with the event loop busy
it waited about 0.4 ms per batch for it (measured in the deep-queue benchmark), on top of the sync.
Here the writer's connection commits with `synchronous=NORMAL` instead — the COMMIT appends the
batch's frames to the WAL file, in the OS page cache, which a killed server does not lose — and
before any caller of the batch is answered, `WalSync` makes the WAL durable with `fdatasync`:

* by a helper process (`python -I -S -c HELPER_CODE <wal>`, one per database): the loop writes one
  byte to its stdin, the helper syncs the WAL and writes one byte back, which the loop reads like
  any socket; the helper holds no GIL of ours, so each sync starts at once;
* or, where there is no helper (it could not start, or it died), by a thread of its own.

One sync covers every frame written before it began (the writer runs the writes that came in
during a sync as one batch after it: group commit). A failed sync (the disk reported an error) is final: after a
failed fsync nothing written since the last good one can be trusted.

SQLite keeps the rest of its `NORMAL` promises in WAL mode: the WAL is synced before each
checkpoint, the database file after it, and the WAL header when the WAL is restarted, so frames
checkpointed earlier stay durable.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable

log = logging.getLogger("colonies")

# The helper: sync the WAL once per byte read, answer b"k", or b"E" and the error, then exit.
HELPER_CODE = """\
# colonies WAL sync helper (storage/walsync.py): this first line is what `ps` shows first
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
while os.read(0, 1):
    try:
        os.fdatasync(fd)
    except OSError as exc:
        os.write(1, b"E" + str(exc).encode()[:200])
        sys.exit(1)
    os.write(1, b"k")
"""


def available() -> bool:
    """Can this platform sync a file this way (os.fdatasync: Linux and the BSDs, not macOS/Windows)?"""
    return hasattr(os, "fdatasync")


class SyncFailed(OSError):
    """fdatasync of the WAL failed: the disk did not confirm the writes."""


class WalSync:
    """Syncs one WAL file on request; one sync at a time. `sync()` (on the loop) starts one;
    `done(None)` or `done(SyncFailed)` is then called on the loop when it is over."""

    def __init__(self, loop: asyncio.AbstractEventLoop, wal_path: str,
                 done: Callable[[BaseException | None], None]) -> None:
        self._loop = loop
        self._path = wal_path
        self._done = done
        self._proc: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None
        self._requests: queue.SimpleQueue[bool] = queue.SimpleQueue()
        self._fd = -1
        self._busy = False
        self._closed = False

    @property
    def mode(self) -> str:
        """"helper" or "thread": who syncs now."""
        return "helper" if self._proc is not None else "thread"

    def start(self) -> None:
        """Start the helper process, or the thread if the helper cannot run here."""
        self._fd = os.open(self._path, os.O_RDONLY)  # the thread's, and proof that the WAL exists
        try:
            if not sys.executable:
                raise OSError("no Python executable to run it with")
            # its own session: a Ctrl-C in the server's terminal does not reach it; it ends when
            # its stdin closes (the server closed the database, or died)
            proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", HELPER_CODE, self._path],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True,
                                    start_new_session=True)
        except OSError as exc:
            log.warning("WAL sync helper could not start (%s); syncing in a thread", exc)
            self._start_thread()
            return
        assert proc.stdout is not None
        os.set_blocking(proc.stdout.fileno(), False)
        self._proc = proc
        self._loop.add_reader(proc.stdout.fileno(), self._answered)

    def sync(self) -> None:
        assert not self._busy and not self._closed
        self._busy = True
        if self._proc is not None:
            assert self._proc.stdin is not None
            with contextlib.suppress(OSError):  # it died: its reader sees EOF and hands over to the thread
                os.write(self._proc.stdin.fileno(), b"s")
            return
        self._requests.put(True)

    def _answered(self) -> None:
        """On the loop: the helper wrote (b"k", b"E…") or ended (EOF)."""
        assert self._proc is not None and self._proc.stdout is not None
        try:
            data = os.read(self._proc.stdout.fileno(), 256)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data[:1] == b"k":
            self._finish(None)
        elif data[:1] == b"E":
            self._stop_helper()
            self._finish(SyncFailed(f"fdatasync of {self._path} failed: {data[1:].decode(errors='replace')}"))
        else:  # EOF: the helper is gone (killed?); its pending sync, if any, is redone by the thread
            log.warning("WAL sync helper ended (exit status %s); syncing in a thread", self._proc.poll())
            self._stop_helper()
            if not self._closed:
                self._start_thread()
                if self._busy:
                    self._requests.put(True)

    def _finish(self, exc: BaseException | None) -> None:
        if not self._busy:
            return
        self._busy = False
        self._done(exc)

    def _start_thread(self) -> None:
        self._thread = threading.Thread(target=self._serve, name="colonies-wal-sync", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while self._requests.get():
            try:
                os.fdatasync(self._fd)
                exc: BaseException | None = None
            except OSError as err:
                exc = SyncFailed(f"fdatasync of {self._path} failed: {err}")
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
                self._loop.call_soon_threadsafe(self._finish, exc)

    def _stop_helper(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        assert proc.stdin is not None and proc.stdout is not None
        with contextlib.suppress(Exception):
            self._loop.remove_reader(proc.stdout.fileno())
        for pipe in (proc.stdin, proc.stdout):
            with contextlib.suppress(OSError):
                pipe.close()
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def close(self) -> None:
        """Stop the helper (it exits when its stdin closes) or the thread. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._stop_helper()
        if self._thread is not None:
            self._requests.put(False)
            self._thread.join(timeout=5)
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
