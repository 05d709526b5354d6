"""Reading spec files the way the Go CLI does: function specs, workflows and executors (JSON).

* A function spec (PROTOCOL §5.4): a missing `maxexectime`/`maxwaittime`/`maxretries` becomes -1,
  and `maxexectime: 0` becomes -1, as the Go CLI's loader does; an empty
  `conditions.colonyname` is filled from COLONIES_COLONY_NAME (or --colonyname).
* A workflow: a bare JSON array of function specs, wrapped into `{colonyname, functionspecs}`
  (an object of that shape is accepted as is).
* An executor spec: `executorname`, `executortype` and optional `location`/`capabilities`; the
  old single-object `hardware`/`software` forms are turned into the one-element lists the
  server stores, and `location.desc` becomes `locationname`.
"""
from __future__ import annotations

import json
from typing import Any, TypeVar

from .common import CliError

T = TypeVar("T")

UNLIMITED = -1


def read_json(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise CliError(f"{path} is not valid JSON: {exc}") from exc


def funcspec(raw: Any, colonyname: str, where: str = "function spec") -> dict[str, Any]:
    """Normalise one function spec dict (a copy)."""
    if not isinstance(raw, dict):
        raise CliError(f"{where}: expected a JSON object")
    spec = dict(raw)
    for key in ("maxwaittime", "maxexectime", "maxretries"):
        if spec.get(key) is None:
            spec[key] = UNLIMITED
        elif not isinstance(spec[key], int) or isinstance(spec[key], bool):
            raise CliError(f"{where}: {key} must be an integer")
    if spec["maxexectime"] == 0:
        spec["maxexectime"] = UNLIMITED
    conditions = dict(spec.get("conditions") or {})
    if not conditions.get("colonyname"):
        conditions["colonyname"] = colonyname
    if "executorNames" in conditions and "executornames" not in conditions:  # older docs' spelling
        conditions["executornames"] = conditions.pop("executorNames")
    if conditions.get("dependencies") is None:
        conditions["dependencies"] = []
    spec["conditions"] = conditions
    if spec.get("args") is None:
        spec["args"] = []
    if spec.get("env") is None:
        spec["env"] = {}
    if not spec.get("funcname"):
        raise CliError(f"{where}: funcname is missing")
    return spec


def to_model(raw: Any, model: type[T], where: str) -> T:
    """A normalised spec dict as the model Struct the server decodes (`models`); a value of the
    wrong type is reported here, naming the file and the field."""
    import msgspec

    try:
        return msgspec.convert(raw, model)
    except msgspec.ValidationError as exc:
        raise CliError(f"{where}: {exc}") from exc


def load_funcspec(path: str, colonyname: str) -> dict[str, Any]:
    return funcspec(read_json(path), colonyname, path)


def workflow(raw: Any, colonyname: str, where: str = "workflow spec") -> dict[str, Any]:
    if isinstance(raw, dict) and "functionspecs" in raw:
        colonyname = raw.get("colonyname") or colonyname
        raw = raw["functionspecs"]
    if not isinstance(raw, list) or not raw:
        raise CliError(f"{where}: expected a non-empty JSON array of function specs")
    specs = [funcspec(s, colonyname, f"{where}[{i}]") for i, s in enumerate(raw)]
    for s in specs:
        s["conditions"]["colonyname"] = colonyname
    return {"colonyname": colonyname, "functionspecs": specs}


def load_workflow(path: str, colonyname: str) -> dict[str, Any]:
    return workflow(read_json(path), colonyname, path)


def _as_list(value: Any) -> list[Any] | None:
    if value is None:
        return None
    return value if isinstance(value, list) else [value]


def executor(raw: Any, where: str = "executor spec") -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise CliError(f"{where}: expected a JSON object")
    spec = dict(raw)
    location = spec.pop("location", None)
    if isinstance(location, dict) and location.get("desc") and not spec.get("locationname"):
        spec["locationname"] = location["desc"]
    caps = spec.get("capabilities")
    if isinstance(caps, dict):
        spec["capabilities"] = {"hardware": _as_list(caps.get("hardware")),
                                "software": _as_list(caps.get("software"))}
    return spec


def load_executor(path: str) -> dict[str, Any]:
    return executor(read_json(path), path)
