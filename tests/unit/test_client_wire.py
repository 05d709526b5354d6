"""What `Client.rpc` puts on the wire is what the server decodes: every request Struct goes
through the client's envelope and the server's own parser (`rpc.envelope.parse_request`) and comes
back equal, signed by the caller; no `null` for an unset field; the client's error classes are the
server's (`errors.BY_STATUS`)."""
from __future__ import annotations

import base64
import json

import pytest

from colonies_pkg import errors
from colonies_pkg.client import InvalidReply, decode_reply, envelope, is_retry_safe, msgtype_of, to_wire
from colonies_pkg.crypto import generate_prvkey, id_of_prvkey
from colonies_pkg.models.colony import Colony
from colonies_pkg.models.process import Conditions, FunctionSpec
from colonies_pkg.rpc import envelope as server_envelope
from colonies_pkg.rpc import messages as m
from colonies_pkg.rpc.replies import ProcessReply

KEY = generate_prvkey()


def payload_of(body: bytes) -> dict:
    return json.loads(base64.b64decode(json.loads(body)["payload"]))


@pytest.mark.parametrize("payloadtype", sorted(m.MESSAGES))
def test_every_message_round_trips_through_the_server_parser(payloadtype: str) -> None:
    msg = m.MESSAGES[payloadtype]()
    body = envelope(msg, KEY)
    assert json.loads(body)["payloadtype"] == payloadtype == msgtype_of(msg)
    assert payload_of(body)["msgtype"] == payloadtype
    parsed, caller = server_envelope.parse_request(body, websocket=payloadtype in m.WEBSOCKET_ONLY)
    assert parsed == msg
    assert caller == ("" if payloadtype in m.UNSIGNED else id_of_prvkey(KEY))


def test_unset_fields_are_left_out_and_user_data_is_kept_as_given() -> None:
    spec = FunctionSpec(funcname="f", args=[1, None, "x"], kwargs={"k": None},
                        conditions=Conditions(colonyname="c", executortype="t", dependencies=[]))
    msg = m.SubmitFuncSpecMsg(spec=spec)
    wire = payload_of(envelope(msg, KEY))
    assert list(wire) == ["msgtype", "spec"]
    assert wire["spec"]["args"] == [1, None, "x"] and wire["spec"]["kwargs"] == {"k": None}
    assert "executornames" not in wire["spec"]["conditions"] and "fs" not in wire["spec"]
    assert wire["spec"]["conditions"]["dependencies"] == []  # a set list stays a list
    parsed, _ = server_envelope.parse_request(envelope(msg, KEY))
    assert parsed == msg


def test_wire_names_are_the_go_field_names() -> None:
    assert to_wire(m.AddColonyMsg(colony=Colony(colonyid="id", name="n"))) == {
        "msgtype": "addcolonymsg", "colony": {"colonyid": "id", "name": "n"}}
    assert to_wire(m.GetProcessMsg(processid="p")) == {"msgtype": "getprocessmsg", "processid": "p"}


def test_the_retry_policy_reads_the_struct_tag() -> None:
    assert is_retry_safe(msgtype_of(m.GetProcessMsg()))
    assert is_retry_safe(msgtype_of(m.ApproveExecutorMsg()))
    for unsafe in (m.SubmitFuncSpecMsg(), m.CloseSuccessfulMsg(), m.CloseFailedMsg(), m.AddLogMsg(),
                   m.PackGeneratorMsg(), m.RemoveProcessMsg()):
        assert not is_retry_safe(msgtype_of(unsafe))


SERVER_ERRORS = [c for c in errors.ColoniesError.__subclasses__() if c.__module__ == errors.__name__]


def test_the_error_table_is_derived_from_errors_py() -> None:
    assert set(errors.BY_STATUS.values()) == set(SERVER_ERRORS)
    assert {400, 403, 404, 408, 413, 429, 503} <= set(errors.BY_STATUS)


@pytest.mark.parametrize("cls", SERVER_ERRORS)
def test_a_server_error_reply_raises_its_class_on_the_client(cls: type[errors.ColoniesError]) -> None:
    status, body = server_envelope.error_reply(cls("it went wrong"))
    with pytest.raises(cls) as caught:
        decode_reply(body, status)
    assert type(caught.value) is cls
    assert caught.value.status == cls.status and caught.value.message == "it went wrong"


def test_an_unknown_status_is_a_plain_colonies_error() -> None:
    payload = base64.b64encode(json.dumps({"status": 418, "message": "teapot"}).encode()).decode()
    with pytest.raises(errors.ColoniesError) as caught:
        decode_reply(json.dumps({"payloadtype": "error", "payload": payload, "error": True}), 418)
    assert type(caught.value) is errors.ColoniesError and caught.value.status == 418


def test_replies_decode_into_structs_or_plain_json() -> None:
    body = server_envelope.ok_reply("getcolonymsg", Colony(colonyid="i", name="n"))
    assert decode_reply(body, 200, Colony) == Colony(colonyid="i", name="n")
    assert decode_reply(body, 200) == {"colonyid": "i", "name": "n"}
    assert decode_reply(server_envelope.ok_reply("getcoloniesmsg", []), 200, list[Colony]) == []


@pytest.mark.parametrize("raw", [b"", b"not json", b"[]", b'{"payload": "%%%"}'])
def test_a_garbled_reply_is_a_colonies_error(raw: bytes) -> None:
    with pytest.raises(errors.ColoniesError, match="invalid reply from server"):
        decode_reply(raw, 502)


def test_unset_and_omitted_defaults_stay_off_the_wire() -> None:
    import msgspec

    from colonies_pkg.models.blueprint import BlueprintDefinition
    from colonies_pkg.rpc.blueprints import AddBlueprintDefinitionMsg

    d = msgspec.convert({"kind": "Lamp", "metadata": {"name": "lamps", "colonyname": "c"},
                         "spec": {"names": {"kind": "Lamp"}, "schema": {"type": "object",
                                                                        "properties": {"on": {"type": "boolean"}}}}},
                        BlueprintDefinition)
    msg = AddBlueprintDefinitionMsg(blueprintdefinition=d)
    body = envelope(msg, KEY)
    wire = payload_of(body)["blueprintdefinition"]
    assert "locationname" not in wire["metadata"] and "shortNames" not in wire["spec"]["names"]  # UNSET
    assert wire["spec"]["schema"] == {"type": "object", "properties": {"on": {"type": "boolean"}}}  # omit_defaults
    assert wire["metadata"]["createdAt"] == "0001-01-01T00:00:00Z"
    parsed, _ = server_envelope.parse_request(body)
    assert parsed == msg


def test_a_push_that_is_no_process_names_where_it_came_from() -> None:
    body = server_envelope.ok_reply("subscribeprocessmsg", {"processid": "p", "errors": "boom"})
    with pytest.raises(InvalidReply, match=r"^invalid reply from server \(push on /pubsub\): Expected `array`, "
                                           r"got `str` - at `\$.errors`$"):
        decode_reply(body, 200, ProcessReply, where="push on /pubsub")
    assert decode_reply(body, 200, where="push on /pubsub") == {"processid": "p", "errors": "boom"}


def test_a_reply_of_another_shape_keeps_what_it_could_read() -> None:
    """InvalidReply.payload: the reply as plain JSON when it was JSON of another shape (an executor
    fails the process it names), None when it was no JSON at all."""
    body = server_envelope.ok_reply("assignprocessmsg", {"processid": "p", "spec": {"args": {"a": 1}}})
    with pytest.raises(InvalidReply, match=r"Expected `array \| null`, got `object` - at `\$.spec.args`$") as caught:
        decode_reply(body, 200, ProcessReply)
    assert caught.value.payload == {"processid": "p", "spec": {"args": {"a": 1}}}
    garbled = json.dumps({"payload": base64.b64encode(b'{"processid": 5, "spec": ').decode()})  # a wrong type, cut off
    with pytest.raises(InvalidReply) as caught:
        decode_reply(garbled, 200, ProcessReply)
    assert caught.value.payload is None
    with pytest.raises(InvalidReply) as caught:
        decode_reply(b"<html>502 Bad Gateway</html>", 502, ProcessReply)
    assert caught.value.payload is None
