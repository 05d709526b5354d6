"""Blueprint shapes and schema rules (CHANNELS_BLUEPRINTS §3): the JSON Go writes, and the Go
validation of a spec against a definition's schema."""
from __future__ import annotations

import msgspec
import pytest

from colonies_pkg.domain.blueprint_schema import validate
from colonies_pkg.errors import BadRequest
from colonies_pkg.models.blueprint import Blueprint, BlueprintDefinition, ValidationSchema
from colonies_pkg.rpc import messages

SDK_DEFINITION = b'{"kind": "K1", "metadata": {"name": "d1", "colonyname": "test"}, "spec": {"names": {"kind": "K1"}}}'


def test_definition_round_trip_has_the_go_keys() -> None:
    d = msgspec.json.decode(SDK_DEFINITION, type=BlueprintDefinition)
    out = msgspec.json.decode(msgspec.json.encode(d))
    assert out == {
        "blueprintdefinitionid": "", "kind": "K1",
        "metadata": {"name": "d1", "colonyname": "test", "createdAt": "0001-01-01T00:00:00Z",
                     "updatedAt": "0001-01-01T00:00:00Z", "lastReconciliationTime": "0001-01-01T00:00:00Z"},
        "spec": {"group": "", "version": "", "names": {"kind": "K1", "listKind": "", "singular": "", "plural": ""},
                 "scope": "", "handler": {"executorType": "", "functionName": ""}},
    }


def test_blueprint_omits_empty_keys_and_drops_handler() -> None:
    b = msgspec.json.decode(b'{"kind": "K", "handler": {"executortype": "x"}, "status": null, "metadata": '
                            b'{"name": "b", "colonyname": "c", "generation": 0, "labels": {}, "locationname": ""},'
                            b' "spec": {"on": false, "n": 1.5, "deep": {"a": [1, null]}}}', type=Blueprint)
    out = msgspec.json.decode(msgspec.json.encode(b))
    assert "status" not in out and "handler" not in out
    assert set(out["metadata"]) == {"name", "colonyname", "createdAt", "updatedAt", "lastReconciliationTime"}
    assert out["spec"] == {"on": False, "n": 1.5, "deep": {"a": [1, None]}}
    b.metadata.generation = 3
    b.status = {"ok": True}
    out = msgspec.json.decode(msgspec.json.encode(b))
    assert out["metadata"]["generation"] == 3 and out["status"] == {"ok": True}


def test_times_must_carry_a_zone() -> None:
    ok = msgspec.json.decode(b'{"metadata": {"createdAt": "2024-01-01T12:00:00+01:00"}}', type=Blueprint)
    assert msgspec.json.encode(ok.metadata.createdAt) == b'"2024-01-01T12:00:00+01:00"'
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"metadata": {"createdAt": "2024-01-01T12:00:00"}}', type=Blueprint)


def test_request_keys_are_gos() -> None:
    msg = messages.decode("updateblueprintstatusmsg", b'{"msgtype": "updateblueprintstatusmsg", "colonyname": "c", '
                                                      b'"blueprintname": "b", "status": {"x": 1}}')
    assert (msg.colonyname, msg.blueprintname, msg.status) == ("c", "b", {"x": 1})
    msg = messages.decode("getblueprintsmsg", b'{"msgtype": "getblueprintsmsg", "namespace": "c", "kind": "K"}')
    assert (msg.namespace, msg.kind, msg.locationname) == ("c", "K", "")


SCHEMA = msgspec.convert({
    "type": "object", "required": ["image"],
    "properties": {"image": {"type": "string"}, "replicas": {"type": "number"}, "count": {"type": "integer"},
                   "on": {"type": "boolean"}, "mode": {"enum": ["a", 2]},
                   "ports": {"type": "array", "items": {"type": "number"}},
                   "env": {"type": "object", "properties": {"TZ": {"type": "string"}}, "required": ["X"]}}},
    ValidationSchema)


@pytest.mark.parametrize("spec", [
    {"image": "x"},
    {"image": "x", "replicas": 2.5, "count": "not checked", "on": False, "mode": 2.0, "ports": [], "extra": [1]},
    {"image": "x", "mode": "a", "env": {"other": 1}, "ports": [1, 2]},
])
def test_valid_specs(spec: dict) -> None:
    validate(spec, SCHEMA)


@pytest.mark.parametrize(("spec", "message"), [
    ({}, "required field 'image' is missing"),
    ({"image": None}, "field 'image' must be a string, got <nil>"),
    ({"image": "x", "replicas": True}, "field 'replicas' must be a number, got bool"),
    ({"image": "x", "on": "yes"}, "field 'on' must be a boolean, got string"),
    ({"image": "x", "mode": "b"}, "field 'mode' must be one of [a 2], got b"),
    ({"image": "x", "ports": {"a": 1}}, "field 'ports' must be an array, got map[string]interface {}"),
    ({"image": "x", "ports": [1, "2"]}, "field 'ports[1]' must be a number, got string"),
    ({"image": "x", "env": []}, "field 'env' must be an object, got []interface {}"),
    ({"image": "x", "env": {"TZ": 1}}, "field 'env.TZ' must be a string, got float64"),
])
def test_invalid_specs(spec: dict, message: str) -> None:
    with pytest.raises(BadRequest) as exc:
        validate(spec, SCHEMA)
    assert exc.value.message == "blueprint validation failed: " + message
