"""The POST /api envelope over a real socket: a 20 MB body gets an error reply (not a reset
connection) and the server keeps serving; pycolonies reads empty lists as `[]`. The rest of the
envelope rules (PROTOCOL §1.2–1.4, §2.3–2.4) are tested in process: tests/api/test_envelope.py."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from replies import Reply, assert_error, assert_ok

from .conftest import ColonyEnv, ServerProcess, sign_envelope


def post(server: ServerProcess, body: str | bytes) -> Reply:
    r = requests.post(server.api_url, data=body, timeout=30)
    try:
        return Reply(r.status_code, r.text)
    except Exception as e:
        pytest.fail(f"reply is not a valid envelope ({e}): HTTP {r.status_code} {r.text[:300]!r}")


def rpc(server: ServerProcess, msg: dict[str, Any], prv: str) -> Reply:
    return post(server, json.dumps(sign_envelope(msg, prv)))


def test_oversized_body_then_still_serving(server: ServerProcess, colony: ColonyEnv) -> None:
    # A correctly signed, otherwise valid request padded to ~27 MB: without a body limit it would
    # succeed, so an error reply here really comes from the size limit.
    msg = {"msgtype": "getcolonymsg", "colonyname": colony.name, "pad": "A" * (20 * 1024 * 1024)}
    env = sign_envelope(msg, colony.user.prv)
    try:
        r = requests.post(server.api_url, data=json.dumps(env), timeout=60)
    except requests.ConnectionError as e:
        pytest.fail(f"20 MB body: connection error instead of an error reply: {e}")
    assert r.status_code in (400, 413), (r.status_code, r.text[:300])
    rep = Reply(r.status_code, r.text)
    assert_error(rep, r.status_code)
    # the server keeps serving
    ok = rpc(server, {"msgtype": "getcolonymsg", "colonyname": colony.name}, colony.user.prv)
    assert assert_ok(ok, "getcolonymsg")["name"] == colony.name


def test_pycolonies_sees_empty_lists(colony: ColonyEnv) -> None:
    user = colony.user
    p = colony.submit()
    assert colony.client.get_process_log(colony.name, p.processid, 100, -1, user.prv) == []
    ex = colony.new_executor()
    assert colony.client.get_executor_log(colony.name, ex.name, 100, -1, user.prv) == []
    assert colony.client.get_functions_by_executor(colony.name, ex.name, user.prv) == []
