"""The POST /api envelope, in process (PROTOCOL §1.2–1.4, §2.3–2.4): malformed input gives a
well-formed error envelope, success replies carry `"error": false`, empty lists are `[]`."""

from __future__ import annotations

import base64
import json
import os

import pytest

from colonies_pkg.crypto import sign

from .conftest import Api, Colony, assert_error, assert_ok, b64, sign_envelope

N = 115792089237316195423570985008687907852837564279074904382605163141518161494337


# ---------------------------------------------------------------------------- malformed envelopes


def test_invalid_json_body(api: Api) -> None:
    assert_error(api.post("this is {not json"), 400)
    assert_error(api.post(""), 400)


def test_bad_base64_payload(api: Api, colony: Colony) -> None:
    payload = "!!!not*base64$$$"
    env = {"payloadtype": "getcolonymsg", "payload": payload, "signature": sign(payload, colony.user.prv)}
    rep = api.post(json.dumps(env))
    assert_error(rep, 400)
    # Go ignores the base64 error and then fails on JSON ("Failed to <verb> <noun>, invalid JSON",
    # §1.3 step 6); any 400 "Failed to ..." message is fine for both clients.
    assert rep.payload["message"].startswith("Failed to "), rep


def test_payload_not_json(api: Api, colony: Colony) -> None:
    payload = base64.b64encode(b"{definitely not json").decode()
    env = {"payloadtype": "getcolonymsg", "payload": payload, "signature": sign(payload, colony.user.prv)}
    rep = api.post(json.dumps(env))
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
def test_bad_signature_is_403(api: Api, colony: Colony, signature: str) -> None:
    env = sign_envelope({"msgtype": "getcolonymsg", "colonyname": colony.name}, colony.user.prv)
    env["signature"] = signature
    assert_error(api.post(json.dumps(env)), 403)


def test_high_s_signature_rejected(api: Api, colony: Colony) -> None:
    msg = {"msgtype": "getcolonymsg", "colonyname": colony.name}
    env = sign_envelope(msg, colony.user.prv)
    # the original low-S signature works
    assert assert_ok(api.post(json.dumps(env)), "getcolonymsg")["name"] == colony.name

    sig = bytes.fromhex(env["signature"])
    r, s, v = sig[:32], int.from_bytes(sig[32:64], "big"), sig[64]
    assert 2 * s < N
    high = r + (N - s).to_bytes(32, "big") + bytes([v ^ 1])
    env["signature"] = high.hex()
    # (r, n-s, v^1) is mathematically valid for the same key, but must be refused (§2.3)
    assert_error(api.post(json.dumps(env)), 403)


def test_signature_over_other_payload(api: Api, colony: Colony) -> None:
    """A valid signature of a different payload recovers to some other id -> refused."""
    env = sign_envelope({"msgtype": "getcolonymsg", "colonyname": colony.name}, colony.user.prv)
    env["payload"] = b64({"msgtype": "getcolonymsg", "colonyname": colony.name, "x": 1})
    assert_error(api.post(json.dumps(env)), 403)


def test_unknown_payloadtype(api: Api, colony: Colony) -> None:
    rep = api.rpc({"msgtype": "foobarmsg"}, colony.user.prv)
    assert_error(rep, 403, "invalid rpcMsg.PayloadType: foobarmsg")


def test_empty_payloadtype(api: Api, colony: Colony) -> None:
    env = sign_envelope({"msgtype": ""}, colony.user.prv)
    rep = api.post(json.dumps(env))
    assert_error(rep, 403)
    assert rep.payload["message"].startswith("invalid rpcMsg.PayloadType: empty"), rep


@pytest.mark.parametrize("msgtype", ["subscribeprocessmsg", "subscribeprocessesmsg", "getnodesmsg"])
def test_websocket_only_or_unhandled_types_on_api(api: Api, colony: Colony, msgtype: str) -> None:
    rep = api.rpc({"msgtype": msgtype, "colonyname": colony.name}, colony.user.prv)
    assert_error(rep, 403, f"invalid rpcMsg.PayloadType: {msgtype}")


def test_msgtype_mismatch(api: Api, colony: Colony) -> None:
    env = sign_envelope({"msgtype": "getcoloniesmsg", "colonyname": colony.name}, colony.user.prv, "getcolonymsg")
    rep = api.post(json.dumps(env))
    assert_error(rep, 400)
    assert rep.payload["message"].endswith("msg.MsgType does not match payloadType"), rep


def test_type_mismatch_in_message_is_400(api: Api, colony: Colony) -> None:
    rep = api.rpc({"msgtype": "getcolonymsg", "colonyname": ["not", "a", "string"]}, colony.user.prv)
    assert_error(rep, 400)


# ---------------------------------------------------------------------------- unsigned messages


def test_versionmsg_unsigned(api: Api) -> None:
    env = {"payloadtype": "versionmsg", "payload": b64({"msgtype": "versionmsg", "buildversion": "", "buildtime": ""}),
           "signature": ""}
    p = assert_ok(api.post(json.dumps(env)), "versionmsg")
    assert isinstance(p["buildversion"], str)
    assert isinstance(p["buildtime"], str)


def test_getserverinfomsg_unsigned(api: Api) -> None:
    env = {"payloadtype": "getserverinfomsg", "payload": b64({"msgtype": "getserverinfomsg"}), "signature": ""}
    p = assert_ok(api.post(json.dumps(env)), "getserverinfomsg")
    assert isinstance(p["buildversion"], str)
    assert isinstance(p["backends"], list) and p["backends"]
    b = p["backends"][0]
    assert b["type"] == "http"
    assert type(b["port"]) is int
    assert isinstance(b["host"], str)


# ---------------------------------------------------------------------------- success shapes


def test_success_reply_shape(api: Api, colony: Colony) -> None:
    rep = api.rpc({"msgtype": "getcolonymsg", "colonyname": colony.name}, colony.user.prv)
    p = assert_ok(rep, "getcolonymsg")
    assert p == {"colonyid": colony.owner.id, "name": colony.name}


def test_empty_reply_is_empty_object(api: Api, colony: Colony) -> None:
    ex = colony.new_executor(approve=False)
    rep = api.rpc(
        {"msgtype": "approveexecutormsg", "colonyname": colony.name, "executorname": ex.name},
        colony.owner.prv,
    )
    assert assert_ok(rep, "approveexecutormsg") == {}
    assert rep.env["payload"] == "e30="


def test_error_status_matches_http_status(api: Api, colony: Colony) -> None:
    ex = colony.new_executor()
    # 404 (§1.4): assign found nothing; getprocess not found
    rep = api.rpc({"msgtype": "assignprocessmsg", "colonyname": colony.name, "timeout": 1}, ex.prv)
    assert_error(rep, 404, "No process available for assignment")
    rep = api.rpc({"msgtype": "getprocessmsg", "processid": "0" * 64}, colony.user.prv)
    assert_error(rep, 404, "Failed to get process, process not found")
    # 403: not server owner
    rep = api.rpc({"msgtype": "getcoloniesmsg"}, colony.user.prv)
    assert_error(rep, 403, "Access denied, not server owner")


def test_empty_lists_are_arrays_not_null(api: Api, colony: Colony) -> None:
    user = colony.user
    rep = api.rpc({"msgtype": "getexecutorsmsg", "colonyname": colony.name}, user.prv)
    assert assert_ok(rep, "getexecutorsmsg") == []
    for state in range(5):
        rep = api.rpc({"msgtype": "getprocessesmsg", "colonyname": colony.name, "count": 10, "state": state}, user.prv)
        assert assert_ok(rep, "getprocessesmsg") == [], state
    rep = api.rpc({"msgtype": "getfunctionsmsg", "colonyname": colony.name}, user.prv)
    assert assert_ok(rep, "getfunctionsmsg") == []

    p = colony.submit()
    rep = api.rpc(
        {"msgtype": "getlogsmsg", "colonyname": colony.name, "executorid": "", "processid": p["processid"], "count": 100,
         "since": -1},
        user.prv,
    )
    assert assert_ok(rep, "getlogsmsg") == []
    # that pycolonies sees [] too is tested in tests/e2e/test_envelope.py


def test_process_json_lists_never_null(api: Api, colony: Colony) -> None:
    p = colony.submit()
    rep = api.rpc({"msgtype": "getprocessmsg", "processid": p["processid"]}, colony.user.prv)
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


def test_server_still_answers(api: Api, colony: Colony) -> None:
    rep = api.rpc({"msgtype": "getcoloniesmsg"}, api.owner.prv)
    names = [c["name"] for c in assert_ok(rep, "getcoloniesmsg")]
    assert colony.name in names
    assert api.client.get("/health").status_code == 200
