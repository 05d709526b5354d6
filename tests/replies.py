"""The reply envelope of POST /api as tests see it, for every tier (in process and real socket):
`Reply(status, text)` decodes it; `assert_error` / `assert_ok` check its exact shape."""
from __future__ import annotations

import base64
import json
from typing import Any


class Reply:
    """A reply envelope, decoded: HTTP status, the envelope (and its key order), the payload."""

    def __init__(self, status: int, text: str) -> None:
        self.status = status
        self.text = text
        self.keys = [k for k, _ in json.loads(text, object_pairs_hook=lambda pairs: pairs)]
        self.env: dict[str, Any] = json.loads(text)
        self.payload = json.loads(base64.b64decode(self.env["payload"]))

    def __repr__(self) -> str:
        return f"Reply(status={self.status}, text={self.text[:300]!r}, payload={self.payload!r})"


def assert_error(rep: Reply, status: int, message: str | None = None) -> None:
    """The ColonyOS error envelope: `{payloadtype: "error", payload: b64 {status, message}, error: true}`."""
    assert rep.keys == ["payloadtype", "payload", "error"], rep
    assert rep.env["payloadtype"] == "error", rep
    assert rep.env["error"] is True, rep
    assert rep.status == status, rep
    assert type(rep.payload["status"]) is int, rep
    assert rep.payload["status"] == status, rep
    assert isinstance(rep.payload["message"], str), rep
    if message is not None:
        assert rep.payload["message"] == message, rep


def assert_ok(rep: Reply, payloadtype: str) -> Any:
    assert rep.status == 200, rep
    assert rep.keys == ["payloadtype", "payload", "error"], rep
    assert rep.env["payloadtype"] == payloadtype, rep
    assert rep.env["error"] is False, rep
    return rep.payload
