"""Checking a blueprint's spec against its definition's schema (CHANNELS_BLUEPRINTS §3.5).

The Go rules, not full JSON Schema: top-level `required`; per known key a type check for string,
number, boolean, object and array (other types, "integer" included, are not checked), `enum`,
nested object properties and array items. Unknown keys are allowed. Pure functions.
"""
from __future__ import annotations

from typing import Any

from ..errors import BadRequest
from ..models.blueprint import SchemaProperty, ValidationSchema

_TYPES: dict[str, tuple[type, ...]] = {"string": (str,), "number": (int, float), "boolean": (bool,),
                                       "object": (dict,), "array": (list,)}
_ARTICLE = {"string": "a string", "number": "a number", "boolean": "a boolean", "object": "an object",
            "array": "an array"}


def _go_type(value: Any) -> str:
    """The Go type name of a decoded JSON value, for messages like Go's `got %T`."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "float64"
    if isinstance(value, str):
        return "string"
    return "map[string]interface {}" if isinstance(value, dict) else "[]interface {}"


def _go_value(value: Any) -> str:
    """Go's %v of a decoded JSON value (lists as [a b], maps as map[k:v])."""
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "<nil>"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return "[" + " ".join(_go_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go_value(v)}" for k, v in sorted(value.items())) + "]"
    return str(value)


def _type_ok(kind: str, value: Any) -> bool:
    expected = _TYPES.get(kind)
    if expected is None:
        return True
    if kind == "number" and isinstance(value, bool):  # a bool is an int in Python, not in JSON
        return False
    return isinstance(value, expected)


def same_json(a: Any, b: Any) -> bool:
    """Equal as Go compares decoded JSON: numbers as float64 (1 == 1.0), but a bool is no number."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(v, b[k]) for k, v in a.items())
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _check(path: str, value: Any, prop: SchemaProperty) -> None:
    if prop.type and not _type_ok(prop.type, value):
        raise BadRequest(f"blueprint validation failed: field '{path}' must be {_ARTICLE[prop.type]}, "
                         f"got {_go_type(value)}")
    if prop.enum and not any(same_json(value, e) for e in prop.enum):
        raise BadRequest(f"blueprint validation failed: field '{path}' must be one of {_go_value(prop.enum)}, "
                         f"got {_go_value(value)}")
    if prop.type == "object" and prop.properties and isinstance(value, dict):
        for key, sub in prop.properties.items():
            if key in value:
                _check(f"{path}.{key}", value[key], sub)
    if prop.type == "array" and prop.items is not None and isinstance(value, list):
        for i, item in enumerate(value):
            _check(f"{path}[{i}]", item, prop.items)


def validate(spec: dict[str, Any], schema: ValidationSchema) -> None:
    """Raise 400 `blueprint validation failed: …` when `spec` breaks `schema`."""
    for name in schema.required:
        if name not in spec:
            raise BadRequest(f"blueprint validation failed: required field '{name}' is missing")
    for key, value in spec.items():
        prop = schema.properties.get(key)
        if prop is not None:
            _check(key, value, prop)
