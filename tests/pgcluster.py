"""A throw-away PostgreSQL cluster for tests and benchmarks, on a free port in a temp dir.

Uses Debian's server binaries (`/usr/lib/postgresql/<v>/bin`, else `initdb` on PATH). `initdb`
refuses to run as root, so as root the cluster belongs to `nobody` and is run with `runuser`.
`find_bindir()` returns None where no PostgreSQL server is installed; callers skip with a reason.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path


def find_bindir() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if candidates:
        return Path(candidates[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """`start()` → admin URL; `new_database()` → URL of a fresh empty database; `stop()`."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.dir = Path(tempfile.mkdtemp(prefix="colonies-pg-"))
        self.data = self.dir / "data"
        self.port = 0
        self._as_root = os.geteuid() == 0

    def _run(self, *cmd: str) -> subprocess.CompletedProcess[str]:
        argv = ["runuser", "-u", "nobody", "--", *cmd] if self._as_root else list(cmd)
        out = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {out.stderr.strip() or out.stdout.strip()}")
        return out

    def start(self) -> str:
        if self._as_root:
            os.chmod(self.dir, 0o777)
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                  "--no-sync", "--no-instructions")
        for _ in range(5):
            self.port = _free_port()
            opts = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                    "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300")
            try:
                self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l", str(self.dir / "log"),
                          "-w", "-t", "60", "start")
                return self.url("postgres")
            except RuntimeError:
                time.sleep(0.2)  # the port was taken between the probe and the start: another one
        raise RuntimeError(f"PostgreSQL did not start; log: {(self.dir / 'log').read_text()[-2000:]}")

    def url(self, dbname: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def new_database(self, prefix: str = "t") -> str:
        import psycopg

        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
