"""The POST /api envelope with raw HTTP (PROTOCOL §1.2–1.4, §2.3–2.4): malformed input gives a
well-formed error envelope, success replies carry `"error": false`, empty lists are `[]`."""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import pytest
import requests

from .conftest import (
    CRYPTO,
    SERVER_PRV,
    ColonyEnv,
    ServerProcess,
    sign_envelope,
)

N = 115792089237316195423570985008687907852837564279074904382605163141518161494337


class Reply:
    def __init__(self, r: requests.Response) -> None:
        self.status = r.status_code
        self.text = r.text
        self.keys = [k for k, _ in json.loads(r.text, object_pairs_hook=lambda pairs: pairs)]
        self.env: dict[str, Any] = json.loads(r.text)
        self.payload = json.loads(base64.b64decode(self.env["payload"]))

    def __repr__(self) -> str:
        return f"Reply(status={self.status}, text={self.text[:300]!r}, payload={self.payload!r})"


def post(server: ServerProcess, body: str | bytes) -> Reply:
    r = requests.post(server.api_url, data=body, timeout=30)
    try:
        return Reply(r)
    except Exception as e:  # noqa: BLE001
        pytest.fail(f"reply is not a valid envelope ({e}): HTTP {r.status_code} {r.text[:300]!r}")


def assert_error(rep: Reply, status: int, message: str | None = None) -> None:
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


def rpc(server: ServerProcess, msg: dict[str, Any], prv: str) -> Reply:
    return post(server, json.dumps(sign_envelope(msg, prv)))


def b64(obj: Any) -> str:
    return base64.b64encode(json.dumps(obj).encode()).decode()


# ---------------------------------------------------------------------------- malformed envelopes


def test_invalid_json_body(server: ServerProcess) -> None:
    assert_error(post(server, "this is {not json"), 400)
    assert_error(post(server, ""), 400)


def test_bad_base64_payload(server: ServerProcess, colony: ColonyEnv) -> None:
    payload = "!!!not*base64$$$"
    env = {"payloadtype": "getcolonymsg", "payload": payload, "signature": CRYPTO.sign(payload, colony.user.prv)}
    rep = post(server, json.dumps(env))
    assert_error(rep, 400)
    # Go ignores the base64 error and then fails on JSON ("Failed to <verb> <noun>, invalid JSON",
    # §1.3 step 6); any 400 "Failed to ..." message is fine for both clients.
    assert rep.payload["message"].startswith("Failed to "), rep


def test_payload_not_json(server: ServerProcess, colony: ColonyEnv) -> None:
    payload = base64.b64encode(b"{definitely not json").decode()
    env = {"payloadtype": "getcolonymsg", "payload": payload, "signature": CRYPTO.sign(payload, colony.user.prv)}
    rep = post(server, json.dumps(env))
    assert_error(rep, 400)
    assert rep.payload["message"].startswith("Failed to "), rep
    assert "invalid JSON" in rep.payload["message"], rep


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param("", id="empty"),
        pytest.param("abcd", id="short"),
        pytest.param("00" * 64, id="64-bytes"),
        pytest.param("00" * 66, id="66-bytes"),
        pytest.param("zz" * 65, id="not-hex"),
        pytest.param("00" * 65, id="all-zero"),
        pytest.param(os.urandom(65).hex(), id="random"),
    ],
)
def test_bad_signature_is_403(server: ServerProcess, colony: ColonyEnv, signature: str) -> None:
    env = sign_envelope({"msgtype": "getcolonymsg", "colonyname": colony.name}, colony.user.prv)
    env["signature"] = signature
    assert_error(post(server, json.dumps(env)), 403)


def test_high_s_signature_rejected(server: ServerProcess, colony: ColonyEnv) -> None:
    msg = {"msgtype": "getcolonymsg", "colonyname": colony.name}
    env = sign_envelope(msg, colony.user.prv)
    # the original low-S signature works
    assert assert_ok(post(server, json.dumps(env)), "getcolonymsg")["name"] == colony.name

    sig = bytes.fromhex(env["signature"])
    r, s, v = sig[:32], int.from_bytes(sig[32:64], "big"), sig[64]
    assert 2 * s < N
    high = r + (N - s).to_bytes(32, "big") + bytes([v ^ 1])
    env["signature"] = high.hex()
    # (r, n-s, v^1) is mathematically valid for the same key, but must be refused (§2.3)
    assert_error(post(server, json.dumps(env)), 403)


def test_signature_over_other_payload(server: ServerProcess, colony: ColonyEnv) -> None:
    """A valid signature of a different payload recovers to some other id -> refused."""
    env = sign_envelope({"msgtype": "getcolonymsg", "colonyname": colony.name}, colony.user.prv)
    env["payload"] = b64({"msgtype": "getcolonymsg", "colonyname": colony.name, "x": 1})
    assert_error(post(server, json.dumps(env)), 403)


def test_unknown_payloadtype(server: ServerProcess, colony: ColonyEnv) -> None:
    rep = rpc(server, {"msgtype": "foobarmsg"}, colony.user.prv)
    assert_error(rep, 403, "invalid rpcMsg.PayloadType: foobarmsg")


def test_empty_payloadtype(server: ServerProcess, colony: ColonyEnv) -> None:
    env = sign_envelope({"msgtype": ""}, colony.user.prv)
    rep = post(server, json.dumps(env))
    assert_error(rep, 403)
    assert rep.payload["message"].startswith("invalid rpcMsg.PayloadType: empty"), rep


@pytest.mark.parametrize("msgtype", ["subscribeprocessmsg", "subscribeprocessesmsg", "getnodesmsg"])
def test_websocket_only_or_unhandled_types_on_api(server: ServerProcess, colony: ColonyEnv, msgtype: str) -> None:
    rep = rpc(server, {"msgtype": msgtype, "colonyname": colony.name}, colony.user.prv)
    assert_error(rep, 403, f"invalid rpcMsg.PayloadType: {msgtype}")


def test_msgtype_mismatch(server: ServerProcess, colony: ColonyEnv) -> None:
    env = sign_envelope({"msgtype": "getcoloniesmsg", "colonyname": colony.name}, colony.user.prv, "getcolonymsg")
    rep = post(server, json.dumps(env))
    assert_error(rep, 400)
    assert rep.payload["message"].endswith("msg.MsgType does not match payloadType"), rep


def test_type_mismatch_in_message_is_400(server: ServerProcess, colony: ColonyEnv) -> None:
    rep = rpc(server, {"msgtype": "getcolonymsg", "colonyname": ["not", "a", "string"]}, colony.user.prv)
    assert_error(rep, 400)


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
    rep = Reply(r)
    assert_error(rep, r.status_code)
    # the server keeps serving
    ok = rpc(server, {"msgtype": "getcolonymsg", "colonyname": colony.name}, colony.user.prv)
    assert assert_ok(ok, "getcolonymsg")["name"] == colony.name


# ---------------------------------------------------------------------------- unsigned messages


def test_versionmsg_unsigned(server: ServerProcess) -> None:
    env = {"payloadtype": "versionmsg", "payload": b64({"msgtype": "versionmsg", "buildversion": "", "buildtime": ""}), "signature": ""}
    p = assert_ok(post(server, json.dumps(env)), "versionmsg")
    assert isinstance(p["buildversion"], str)
    assert isinstance(p["buildtime"], str)


def test_getserverinfomsg_unsigned(server: ServerProcess) -> None:
    env = {"payloadtype": "getserverinfomsg", "payload": b64({"msgtype": "getserverinfomsg"}), "signature": ""}
    p = assert_ok(post(server, json.dumps(env)), "getserverinfomsg")
    assert isinstance(p["buildversion"], str)
    assert isinstance(p["backends"], list) and p["backends"]
    b = p["backends"][0]
    assert b["type"] == "http"
    assert type(b["port"]) is int
    assert isinstance(b["host"], str)


# ---------------------------------------------------------------------------- success shapes


def test_success_reply_shape(server: ServerProcess, colony: ColonyEnv) -> None:
    rep = rpc(server, {"msgtype": "getcolonymsg", "colonyname": colony.name}, colony.user.prv)
    p = assert_ok(rep, "getcolonymsg")
    assert p == {"colonyid": colony.colony_id, "name": colony.name}


def test_empty_reply_is_empty_object(server: ServerProcess, colony: ColonyEnv) -> None:
    ex = colony.new_executor(approve=False)
    rep = rpc(
        server,
        {"msgtype": "approveexecutormsg", "colonyname": colony.name, "executorname": ex.name},
        colony.colony_prv,
    )
    assert assert_ok(rep, "approveexecutormsg") == {}
    assert rep.env["payload"] == "e30="


def test_error_status_matches_http_status(server: ServerProcess, colony: ColonyEnv) -> None:
    ex = colony.new_executor()
    # 404 (§1.4): assign found nothing; getprocess not found
    rep = rpc(server, {"msgtype": "assignprocessmsg", "colonyname": colony.name, "timeout": 1}, ex.prv)
    assert_error(rep, 404, "No process available for assignment")
    rep = rpc(server, {"msgtype": "getprocessmsg", "processid": "0" * 64}, colony.user.prv)
    assert_error(rep, 404, "Failed to get process, process not found")
    # 403: not server owner
    rep = rpc(server, {"msgtype": "getcoloniesmsg"}, colony.user.prv)
    assert_error(rep, 403, "Access denied, not server owner")


def test_empty_lists_are_arrays_not_null(server: ServerProcess, colony: ColonyEnv) -> None:
    user = colony.user
    rep = rpc(server, {"msgtype": "getexecutorsmsg", "colonyname": colony.name}, user.prv)
    assert assert_ok(rep, "getexecutorsmsg") == []
    for state in range(5):
        rep = rpc(server, {"msgtype": "getprocessesmsg", "colonyname": colony.name, "count": 10, "state": state}, user.prv)
        assert assert_ok(rep, "getprocessesmsg") == [], state
    rep = rpc(server, {"msgtype": "getfunctionsmsg", "colonyname": colony.name}, user.prv)
    assert assert_ok(rep, "getfunctionsmsg") == []

    p = colony.submit()
    rep = rpc(
        server,
        {"msgtype": "getlogsmsg", "colonyname": colony.name, "executorid": "", "processid": p.processid, "count": 100, "since": -1},
        user.prv,
    )
    assert assert_ok(rep, "getlogsmsg") == []
    # pycolonies sees [] too
    assert colony.client.get_process_log(colony.name, p.processid, 100, -1, user.prv) == []

    ex = colony.new_executor()
    assert colony.client.get_executor_log(colony.name, ex.name, 100, -1, user.prv) == []
    assert colony.client.get_functions_by_executor(colony.name, ex.name, user.prv) == []


def test_process_json_lists_never_null(server: ServerProcess, colony: ColonyEnv) -> None:
    p = colony.submit()
    rep = rpc(server, {"msgtype": "getprocessmsg", "processid": p.processid}, colony.user.prv)
    proc = assert_ok(rep, "getprocessmsg")
    for k in ("errors", "parents", "children"):
        assert proc[k] == [], k
    assert proc["spec"]["args"] == []
    assert proc["spec"]["env"] == {}
    assert proc["spec"]["conditions"]["dependencies"] == []
    assert proc["processgraphid"] == ""
    for k in ("submissiontime", "starttime", "endtime", "waitdeadline", "execdeadline"):
        assert isinstance(proc[k], str) and "T" in proc[k], (k, proc[k])
    assert proc["starttime"] == "0001-01-01T00:00:00Z"
    assert type(proc["prioritytime"]) is int
    assert type(proc["state"]) is int
    assert proc["isassigned"] is False


def test_server_still_answers(server: ServerProcess, colony: ColonyEnv) -> None:
    assert server.alive()
    rep = rpc(server, {"msgtype": "getcoloniesmsg"}, SERVER_PRV)
    names = [c["name"] for c in assert_ok(rep, "getcoloniesmsg")]
    assert colony.name in names
    assert requests.get(server.base_url + "/health", timeout=5).status_code == 200
