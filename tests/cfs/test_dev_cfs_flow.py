"""The container tutorial's CFS flow on `colonies dev` with the sample executor in place of a
container: a label is synced into the process's mount, the process writes a file there, and
the file is in CFS after the process closes (embedded store, no S3)."""
from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from pathlib import Path

from server_process import ServerProcess

from colonies_pkg.cfs import CFS
from colonies_pkg.client import Client
from colonies_pkg.objectstore.router import store_from_env

ROOT = Path(__file__).resolve().parents[2]
KEY = "ddf7f7791208083b6a9ed975a72684f6406a269cfa36f1b1c32045c0a71fff05"


def dev_server(tmp_path: Path, *flags: str) -> ServerProcess:
    """A `colonies.py dev` subprocess on a free port, data in tmp_path/data."""
    return ServerProcess(tmp_path, *flags)


def test_sample_executor_syncs_a_label_in_and_back(tmp_path):
    with dev_server(tmp_path, "--shell") as server, contextlib.ExitStack() as stack:
        port = server.port
        client = stack.enter_context(contextlib.closing(Client("127.0.0.1", port)))
        cfs = CFS(client, store_from_env(client, "dev", KEY, {}), "dev", KEY)
        src = tmp_path / "hello.txt"
        src.write_text("Hello world\n")
        cfs.upload(str(src), "/myfiles")
        spec = {
            "funcname": "execute", "args": ["cp", "/cfs/myfiles/hello.txt", "/cfs/myfiles/copy.txt"],
            "maxexectime": 30, "maxretries": 0, "maxwaittime": -1,
            "conditions": {"colonyname": "dev", "executortype": "cli"},
            "fs": {"mount": "/cfs", "dirs": [{"label": "/myfiles", "dir": "/myfiles", "keepfiles": False,
                                              "onconflicts": {"onstart": {"keeplocal": False},
                                                              "onclose": {"keeplocal": True}}}]},
        }
        deadline = time.monotonic() + 20
        while True:  # the sample executor registers right after the server is up
            try:
                pid = client.rpc({"msgtype": "submitfuncspecmsg", "spec": spec}, KEY)["processid"]
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        while time.monotonic() < deadline:
            process = client.rpc({"msgtype": "getprocessmsg", "processid": pid}, KEY)
            if process["state"] >= 2:
                break
            time.sleep(0.1)
        assert process["state"] == 2, process["errors"]
        [copy] = cfs.versions("/myfiles", "copy.txt", latest=True)
        dest = tmp_path / "out" / "copy.txt"
        assert Path(cfs.download(copy, str(dest))).read_text() == "Hello world\n"
        # nothing of the process's mount is left behind (keepfiles false)
        mounts = tmp_path / "data" / "cfs-mounts"
        assert not mounts.exists() or not any(p.is_file() for p in mounts.rglob("*"))


def test_fs_json_listings(tmp_path):
    """`fs ls`, `fs info`, `fs label ls`, `fs snapshot ls/info` print JSON with --json."""
    import json
    import os

    with dev_server(tmp_path, "--no-executor") as server:
        port = server.port
        env = {**os.environ, "COLONIES_SERVER_HOST": "127.0.0.1", "COLONIES_SERVER_PORT": str(port),
               "COLONIES_TLS": "false", "COLONIES_COLONY_NAME": "dev", "COLONIES_PRVKEY": KEY}
        env.pop("AWS_S3_ENDPOINT", None)
        (tmp_path / "d").mkdir()
        (tmp_path / "d" / "a.txt").write_text("A")

        def cli(*argv):
            r = subprocess.run([sys.executable, "colonies.py", *argv], cwd=ROOT, env=env, capture_output=True,
                               text=True, timeout=60)
            assert r.returncode == 0, r.stderr
            return r.stdout

        cli("fs", "sync", "-l", "/j", "-d", str(tmp_path / "d"), "--yes")
        cli("fs", "snapshot", "create", "-l", "/j", "-n", "snap")
        [f] = json.loads(cli("fs", "ls", "-l", "/j", "--json"))
        assert f["name"] == "a.txt" and f["revisions"] == 1
        assert json.loads(cli("fs", "info", "-l", "/j", "-n", "a.txt", "--json"))[0]["fileid"] == f["fileid"]
        assert json.loads(cli("fs", "label", "ls", "--json")) == [{"name": "/j", "files": 1}]
        assert json.loads(cli("fs", "snapshot", "ls", "--json"))[0]["fileids"] == [f["fileid"]]
        assert json.loads(cli("fs", "snapshot", "info", "-n", "snap", "--json"))["name"] == "snap"
