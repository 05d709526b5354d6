"""Attributes (§4.7), logs (§4.9) and function statistics (§4.5) through pycolonies 1.0.25."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from pycolonies import ColoniesConnectionError

from .conftest import ColonyEnv, Member


def _running(colony: ColonyEnv, ex: Member, **kw: Any) -> Any:
    p = colony.submit(**kw)
    a = colony.client.assign(colony.name, 5, ex.prv)
    assert a.processid == p.processid
    return a


# ---------------------------------------------------------------------------- attributes


def test_add_and_get_attribute(colony: ColonyEnv) -> None:
    c, user = colony.client, colony.user
    ex = colony.new_executor()
    p = _running(colony, ex)

    attr = c.add_attribute(p.processid, "py_test_key", "py_test_value", ex.prv)
    assert attr["key"] == "py_test_key"
    assert attr["value"] == "py_test_value"
    assert attr["targetid"] == p.processid
    assert attr["attributetype"] == 1
    # attribute id = SHA3-256(targetid + key + str(attributetype)) (PROTOCOL §2.5)
    expected_id = hashlib.sha3_256((p.processid + "py_test_key" + "1").encode()).hexdigest()
    assert attr["attributeid"] == expected_id

    got = c.get_attribute(attr["attributeid"], user.prv)
    assert got["attributeid"] == expected_id
    assert got["key"] == "py_test_key"
    assert got["value"] == "py_test_value"
    assert got["targetid"] == p.processid
    assert got["attributetype"] == 1

    proc = c.get_process(p.processid, user.prv)
    keys = {(a.key, a.value, a.attributetype) for a in (proc.attributes or [])}
    assert ("py_test_key", "py_test_value", 1) in keys

    # same (process, key, type) again is a duplicate
    with pytest.raises(ColoniesConnectionError):
        c.add_attribute(p.processid, "py_test_key", "other", ex.prv)
    # a second key is fine
    c.add_attribute(p.processid, "k2", "v2", ex.prv)
    proc = c.get_process(p.processid, user.prv)
    assert {a.key for a in proc.attributes or []} >= {"py_test_key", "k2"}


def test_get_unknown_attribute(colony: ColonyEnv) -> None:
    with pytest.raises(ColoniesConnectionError):
        colony.client.get_attribute("0" * 64, colony.user.prv)


def test_attribute_on_unknown_process(colony: ColonyEnv) -> None:
    ex = colony.new_executor()
    with pytest.raises(ColoniesConnectionError, match="Failed to add attribute, process not found"):
        colony.client.add_attribute("f" * 64, "k", "v", ex.prv)


def test_env_becomes_env_attributes(colony: ColonyEnv) -> None:
    c, user = colony.client, colony.user
    ex = colony.new_executor()
    env = {"ALPHA": "1", "BETA": "two words"}
    p = colony.submit(env=env)
    assert p.spec.env == env
    env_attrs = {a.key: a for a in (p.attributes or []) if a.attributetype == 3}
    assert set(env_attrs) == set(env)
    for k, v in env.items():
        assert env_attrs[k].value == v
        assert env_attrs[k].targetid == p.processid

    g = c.get_process(p.processid, user.prv)
    assert g.spec.env == env
    assert {a.key for a in (g.attributes or []) if a.attributetype == 3} == set(env)

    a = c.assign(colony.name, 5, ex.prv)
    assert a.spec.env == env


# ---------------------------------------------------------------------------- logs


def test_process_logs_count_and_since(colony: ColonyEnv) -> None:
    c, user = colony.client, colony.user
    ex = colony.new_executor()
    p = _running(colony, ex)
    for i in range(3):
        assert c.add_log(p.processid, f"line {i}\n", ex.prv) == {}

    logs = c.get_process_log(colony.name, p.processid, 100, -1, user.prv)
    assert [entry["message"] for entry in logs] == ["line 0\n", "line 1\n", "line 2\n"]
    ts = [entry["timestamp"] for entry in logs]
    assert all(type(t) is int for t in ts)
    assert ts == sorted(ts)
    assert ts[0] > 1_600_000_000 * 10**9  # Unix nanoseconds
    for entry in logs:
        assert entry["processid"] == p.processid
        assert entry["executorname"] == ex.name
        assert entry["colonyname"] == colony.name

    # count: the first `count` entries, oldest first
    first2 = c.get_process_log(colony.name, p.processid, 2, -1, user.prv)
    assert [entry["message"] for entry in first2] == ["line 0\n", "line 1\n"]
    # since: entries with timestamp > since
    if ts[0] < ts[1]:
        after = c.get_process_log(colony.name, p.processid, 100, ts[0], user.prv)
        assert [entry["message"] for entry in after] == ["line 1\n", "line 2\n"]
    after_last = c.get_process_log(colony.name, p.processid, 100, ts[2], user.prv)
    assert after_last == []
    # count 0 -> LIMIT 0 -> empty
    assert c.get_process_log(colony.name, p.processid, 0, -1, user.prv) == []

    # logs survive the close
    c.close(p.processid, [], ex.prv)
    assert len(c.get_process_log(colony.name, p.processid, 100, -1, user.prv)) == 3


def test_log_count_limit(colony: ColonyEnv) -> None:
    ex = colony.new_executor()
    p = _running(colony, ex)
    with pytest.raises(ColoniesConnectionError, match=r"Count exceeds max log count \(500\)"):
        colony.client.get_process_log(colony.name, p.processid, 501, -1, colony.user.prv)
    assert colony.client.get_process_log(colony.name, p.processid, 500, -1, colony.user.prv) == []


def test_logs_of_unknown_process(colony: ColonyEnv) -> None:
    with pytest.raises(ColoniesConnectionError):
        colony.client.get_process_log(colony.name, "e" * 64, 10, -1, colony.user.prv)


def test_executor_logs(colony: ColonyEnv) -> None:
    c, user = colony.client, colony.user
    e1 = colony.new_executor()
    e2 = colony.new_executor()
    p1 = _running(colony, e1)
    c.add_log(p1.processid, "e1 first", e1.prv)
    c.close(p1.processid, [], e1.prv)
    p2 = _running(colony, e1)
    c.add_log(p2.processid, "e1 second", e1.prv)
    c.add_log(p2.processid, "e1 third", e1.prv)
    p3 = _running(colony, e2)
    c.add_log(p3.processid, "e2 only", e2.prv)

    logs = c.get_executor_log(colony.name, e1.name, 100, -1, user.prv)
    assert [entry["message"] for entry in logs] == ["e1 first", "e1 second", "e1 third"]
    assert [entry["processid"] for entry in logs] == [p1.processid, p2.processid, p2.processid]
    assert all(entry["executorname"] == e1.name for entry in logs)

    assert [entry["message"] for entry in c.get_executor_log(colony.name, e2.name, 100, -1, user.prv)] == ["e2 only"]
    assert len(c.get_executor_log(colony.name, e1.name, 1, -1, user.prv)) == 1
    ts = [entry["timestamp"] for entry in logs]
    if ts[0] < ts[1]:
        since = c.get_executor_log(colony.name, e1.name, 100, ts[0], user.prv)
        assert [entry["message"] for entry in since] == ["e1 second", "e1 third"]

    with pytest.raises(ColoniesConnectionError, match="Failed to get logs, executor does not exist"):
        c.get_executor_log(colony.name, "no-such-executor", 100, -1, user.prv)


# ---------------------------------------------------------------------------- function statistics


def test_function_statistics_success_only(colony: ColonyEnv) -> None:
    c, user = colony.client, colony.user
    ex = colony.new_executor()
    c.add_function(colony.name, ex.name, "stat", ex.prv)

    p = _running(colony, ex, funcname="stat")
    c.close(p.processid, ["1"], ex.prv)
    q = _running(colony, ex, funcname="stat")
    c.fail(q.processid, ["nope"], ex.prv)  # failures do not count
    r = _running(colony, ex, funcname="unregistered")
    c.close(r.processid, [], ex.prv)  # no Function row: nothing to update, no error

    funcs = c.get_functions_by_executor(colony.name, ex.name, user.prv)
    assert [f["funcname"] for f in funcs] == ["stat"]
    f = funcs[0]
    assert f["counter"] == 1
    for k in ("minwaittime", "maxwaittime", "minexectime", "maxexectime", "avgwaittime", "avgexectime"):
        assert isinstance(f[k], (int, float)) and f[k] >= 0, (k, f[k])
    assert f["minexectime"] <= f["maxexectime"]
