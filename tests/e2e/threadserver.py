"""A real server on a real socket inside the test process: uvicorn in a thread around create_app.

Used where a test needs to choose the HTTP implementation (h11 or httptools) or small limits,
and where nothing but the test's own requests may write (no background loops).
"""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from colonies_pkg.config import ServerConfig
from colonies_pkg.crypto import id_of_prvkey

from .conftest import SERVER_PRV, free_port


class ThreadServer:
    def __init__(self, data_dir: Path, http: str = "auto", **config: Any) -> None:
        import uvicorn

        from colonies_pkg.server.app import create_app

        self.port = free_port()
        self.config = ServerConfig(host="127.0.0.1", port=self.port, data_dir=str(data_dir),
                                   server_id=id_of_prvkey(SERVER_PRV), **config)
        app = create_app(self.config, start_loops=False)
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="on", ws_ping_interval=None, http=http))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
