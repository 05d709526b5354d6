"""The built-in web dashboard at `/ui/`: server-rendered HTML, one small script, live updates
over server-sent events. `build(services)` is called on the first request (see observe.routes),
so a server that never serves the dashboard never imports it."""
from __future__ import annotations

from typing import Any


def build(services: Any) -> Any:
    from .app import make_app

    return make_app(services)
