"""One refusal per authorization rule (PROTOCOL §3, §4.1–4.7, §4.9), through pycolonies 1.0.25.

pycolonies turns every error reply into `ColoniesConnectionError(message)`, so where PROTOCOL.md
gives the exact message the test compares `str(exc)` with it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pycolonies import ColoniesConnectionError

from .conftest import SERVER_PRV, ColonyEnv, Member, make_colony, new_key, uniq

NOT_SERVER_OWNER = "Access denied, not server owner"
NOT_COLONY_OWNER = "Access denied, not colony owner"


def not_member(colonyname: str) -> str:
    return f"Access denied, not a member of Colony with name {colonyname}"


def refused(fn: Callable[[], Any], message: str | None = None, contains: str | None = None) -> str:
    with pytest.raises(ColoniesConnectionError) as ei:
        fn()
    text = str(ei.value)
    if message is not None:
        assert text == message
    if contains is not None:
        assert contains in text, text
    return text


@pytest.fixture
def other(colony: ColonyEnv) -> ColonyEnv:
    """A second colony on the same server."""
    return make_colony(colony.client)


@pytest.fixture
def outsider(other: ColonyEnv) -> Member:
    """An approved executor of ANOTHER colony: a valid identity, but not a member here."""
    return other.new_executor()


# ---------------------------------------------------------------------------- server owner (§4.1/4.2)


def test_only_server_owner_can_add_colony(colony: ColonyEnv, outsider: Member) -> None:
    c = colony.client
    prv, cid = new_key()
    for key in (colony.colony_prv, colony.user.prv, outsider.prv, prv):
        refused(lambda key=key: c.add_colony({"colonyid": cid, "name": uniq("c")}, key), NOT_SERVER_OWNER)


def test_only_server_owner_can_list_colonies(colony: ColonyEnv) -> None:
    c = colony.client
    for key in (colony.colony_prv, colony.user.prv):
        refused(lambda key=key: c.list_colonies(key), NOT_SERVER_OWNER)
    names = [x["name"] for x in c.list_colonies(SERVER_PRV)]
    assert colony.name in names


def test_only_server_owner_can_remove_colony(colony: ColonyEnv) -> None:
    c = colony.client
    for key in (colony.colony_prv, colony.user.prv):
        refused(lambda key=key: c.del_colony(colony.name, key), NOT_SERVER_OWNER)
    # still there
    assert c.get_colony(colony.name, colony.user.prv)["name"] == colony.name
    c.del_colony(colony.name, SERVER_PRV)
    assert colony.name not in [x["name"] for x in c.list_colonies(SERVER_PRV)]


# ---------------------------------------------------------------------------- colony owner (§4.3/4.4/4.6)


def test_only_colony_owner_can_add_executor(colony: ColonyEnv, other: ColonyEnv) -> None:
    c = colony.client
    prv, eid = new_key()
    ex = {"executorname": uniq("e"), "executorid": eid, "colonyname": colony.name, "executortype": "t"}
    for key in (colony.user.prv, other.colony_prv, SERVER_PRV, prv):
        refused(lambda key=key: c.add_executor(ex, key), NOT_COLONY_OWNER)
    assert ex["executorname"] not in [e["executorname"] for e in c.list_executors(colony.name, colony.user.prv)]


def test_only_colony_owner_can_approve_reject_remove_executor(colony: ColonyEnv, other: ColonyEnv) -> None:
    c = colony.client
    pending = colony.new_executor(approve=False)
    approved = colony.new_executor()
    for key in (colony.user.prv, approved.prv, other.colony_prv, SERVER_PRV):
        refused(lambda key=key: c.approve_executor(colony.name, pending.name, key), NOT_COLONY_OWNER)
        refused(lambda key=key: c.reject_executor(colony.name, approved.name, key), NOT_COLONY_OWNER)
        refused(lambda key=key: c.remove_executor(colony.name, approved.name, key), NOT_COLONY_OWNER)
    states = {e["executorname"]: e["state"] for e in c.list_executors(colony.name, colony.user.prv)}
    assert states[pending.name] == 0
    assert states[approved.name] == 1


def test_only_colony_owner_can_add_and_remove_users(colony: ColonyEnv, other: ColonyEnv) -> None:
    c = colony.client
    member_exec = colony.new_executor()
    _prv, uid = new_key()
    user = {"colonyname": colony.name, "userid": uid, "name": uniq("u"), "email": "", "phone": ""}
    for key in (colony.user.prv, member_exec.prv, other.colony_prv, SERVER_PRV):
        refused(lambda key=key: c.add_user(user, key), NOT_COLONY_OWNER)
        refused(lambda key=key: c.remove_user(colony.name, colony.user.name, key), NOT_COLONY_OWNER)
    names = [u["name"] for u in c.get_users(colony.name, colony.user.prv)]
    assert colony.user.name in names
    assert user["name"] not in names


def test_only_colony_owner_can_remove_all_processes(colony: ColonyEnv, other: ColonyEnv) -> None:
    c = colony.client
    p = colony.submit()
    ex = colony.new_executor()
    for key in (colony.user.prv, ex.prv, other.colony_prv, SERVER_PRV):
        refused(lambda key=key: c.remove_all_processes(colony.name, key), NOT_COLONY_OWNER)
    assert c.get_process(p.processid, colony.user.prv).state == 0


def test_unknown_colony_for_owner_operation(colony: ColonyEnv) -> None:
    c = colony.client
    name = uniq("nosuchcolony")
    refused(lambda: c.remove_all_processes(name, colony.colony_prv), f"Colony with name {name} does not exists")


# ---------------------------------------------------------------------------- membership (§3)


def test_non_member_cannot_submit(colony: ColonyEnv, outsider: Member) -> None:
    refused(lambda: colony.submit(prv=outsider.prv), not_member(colony.name))
    assert colony.client.list_processes(colony.name, 100, 0, colony.user.prv) == []


def test_colony_owner_key_alone_cannot_submit(colony: ColonyEnv) -> None:
    refused(lambda: colony.submit(prv=colony.colony_prv), not_member(colony.name))


def test_server_owner_key_cannot_submit(colony: ColonyEnv) -> None:
    refused(lambda: colony.submit(prv=SERVER_PRV), not_member(colony.name))


def test_non_member_cannot_get_process(colony: ColonyEnv, outsider: Member) -> None:
    p = colony.submit()
    refused(lambda: colony.client.get_process(p.processid, outsider.prv), not_member(colony.name))
    refused(lambda: colony.client.get_process(p.processid, colony.colony_prv), not_member(colony.name))


def test_non_member_cannot_list_processes(colony: ColonyEnv, outsider: Member) -> None:
    colony.submit()
    refused(lambda: colony.client.list_processes(colony.name, 10, 0, outsider.prv), not_member(colony.name))


def test_non_member_cannot_get_colony(colony: ColonyEnv, outsider: Member) -> None:
    refused(lambda: colony.client.get_colony(colony.name, outsider.prv), not_member(colony.name))
    got = colony.client.get_colony(colony.name, colony.user.prv)
    assert got["name"] == colony.name
    assert got["colonyid"] == colony.colony_id


def test_unknown_colony_for_member_operation(colony: ColonyEnv) -> None:
    name = uniq("nosuchcolony")
    refused(lambda: colony.client.get_colony(name, colony.user.prv), f"Colony with name {name} does not exists")


def test_non_member_cannot_get_stats(colony: ColonyEnv, outsider: Member) -> None:
    # The Go server sends no reply at all here ([BUG] §4.2); any error is acceptable.
    refused(lambda: colony.client.stats(colony.name, outsider.prv))


def test_non_member_cannot_remove_process(colony: ColonyEnv, outsider: Member) -> None:
    p = colony.submit()
    refused(lambda: colony.client.remove_process(p.processid, outsider.prv))
    assert colony.client.get_process(p.processid, colony.user.prv).state == 0


def test_non_member_cannot_list_executors(colony: ColonyEnv, outsider: Member) -> None:
    refused(lambda: colony.client.list_executors(colony.name, outsider.prv), not_member(colony.name))


# ---------------------------------------------------------------------------- assignment (§4.6, §6.1)


def test_pending_executor_cannot_assign(colony: ColonyEnv) -> None:
    pending = colony.new_executor(approve=False)
    p = colony.submit()
    # Deliberate deviation from Go (README): the refusal names the real reason instead of
    # the generic "not a member" text Go shows for unapproved executors.
    refused(lambda: colony.client.assign(colony.name, 1, pending.prv),
            f"Access denied, executor {pending.name} is not approved")
    assert colony.client.get_process(p.processid, colony.user.prv).state == 0
    # but "unapproved ok" operations work for it
    names = [e["executorname"] for e in colony.client.list_executors(colony.name, pending.prv)]
    assert pending.name in names


def test_rejected_executor_cannot_assign(colony: ColonyEnv) -> None:
    ex = colony.new_executor()
    colony.client.reject_executor(colony.name, ex.name, colony.colony_prv)
    states = {e["executorname"]: e["state"] for e in colony.client.list_executors(colony.name, colony.user.prv)}
    assert states[ex.name] == 2
    p = colony.submit()
    refused(lambda: colony.client.assign(colony.name, 1, ex.prv), f"Access denied, executor {ex.name} is not approved")
    assert colony.client.get_process(p.processid, colony.user.prv).state == 0


def test_removed_executor_cannot_assign(colony: ColonyEnv) -> None:
    ex = colony.new_executor()
    colony.client.remove_executor(colony.name, ex.name, colony.colony_prv)
    colony.submit()
    refused(lambda: colony.client.assign(colony.name, 1, ex.prv))


def test_executor_of_other_colony_cannot_assign(colony: ColonyEnv, outsider: Member) -> None:
    colony.submit(executortype=outsider.type)
    refused(lambda: colony.client.assign(colony.name, 1, outsider.prv), not_member(colony.name))


def test_user_cannot_assign(colony: ColonyEnv) -> None:
    colony.submit()
    refused(
        lambda: colony.client.assign(colony.name, 1, colony.user.prv),
        # Go answers 500 "Failed to assign process, executor not found"; a refused caller is a 403.
        "Access denied, caller is not an executor of this colony",
    )


# ---------------------------------------------------------------------------- only the assigned executor


@pytest.fixture
def running(colony: ColonyEnv) -> tuple[Any, Member, Member]:
    """A RUNNING process assigned to e1; e2 is another approved executor of the same type."""
    e1 = colony.new_executor()
    e2 = colony.new_executor()
    p = colony.submit()
    a = colony.client.assign(colony.name, 5, e1.prv)
    assert a.processid == p.processid
    return p, e1, e2


def _unchanged(colony: ColonyEnv, pid: str, e1: Member) -> Any:
    p = colony.client.get_process(pid, colony.user.prv)
    assert p.state == 1
    assert p.assignedexecutorid == e1.id
    assert p.output in (None, [])
    assert p.errors == []
    return p


def test_only_assigned_executor_can_close(colony: ColonyEnv, running: Any) -> None:
    p, e1, e2 = running
    refused(lambda: colony.client.close(p.processid, ["x"], e2.prv), contains="not allowed to close process as successful")
    refused(lambda: colony.client.close(p.processid, ["x"], colony.user.prv))
    _unchanged(colony, p.processid, e1)
    colony.client.close(p.processid, ["x"], e1.prv)
    assert colony.client.get_process(p.processid, colony.user.prv).state == 2


def test_only_assigned_executor_can_fail(colony: ColonyEnv, running: Any) -> None:
    p, e1, e2 = running
    refused(lambda: colony.client.fail(p.processid, ["x"], e2.prv))
    refused(lambda: colony.client.fail(p.processid, ["x"], colony.user.prv))
    _unchanged(colony, p.processid, e1)


def test_only_assigned_executor_can_set_output(colony: ColonyEnv, running: Any) -> None:
    p, e1, e2 = running
    refused(lambda: colony.client.set_output(p.processid, ["x"], e2.prv))
    refused(lambda: colony.client.set_output(p.processid, ["x"], colony.user.prv))
    _unchanged(colony, p.processid, e1)


def test_only_assigned_executor_can_add_log(colony: ColonyEnv, running: Any) -> None:
    p, _e1, e2 = running
    refused(lambda: colony.client.add_log(p.processid, "hi", e2.prv))
    refused(lambda: colony.client.add_log(p.processid, "hi", colony.user.prv))
    assert colony.client.get_process_log(colony.name, p.processid, 100, -1, colony.user.prv) == []


def test_only_assigned_executor_can_add_attribute(colony: ColonyEnv, running: Any) -> None:
    p, e1, e2 = running
    expected = f"Failed to add attribute, only executor with id {e1.id} is allowed to set attributes"
    refused(lambda: colony.client.add_attribute(p.processid, "k", "v", e2.prv), expected)
    refused(lambda: colony.client.add_attribute(p.processid, "k", "v", colony.user.prv))
    got = colony.client.get_process(p.processid, colony.user.prv)
    assert not [a for a in (got.attributes or []) if a.key == "k"]


def test_outsider_cannot_touch_running_process(colony: ColonyEnv, running: Any, outsider: Member) -> None:
    p, e1, _ = running
    refused(lambda: colony.client.close(p.processid, ["x"], outsider.prv))
    refused(lambda: colony.client.fail(p.processid, ["x"], outsider.prv))
    refused(lambda: colony.client.add_log(p.processid, "x", outsider.prv))
    refused(lambda: colony.client.add_attribute(p.processid, "k", "v", outsider.prv))
    _unchanged(colony, p.processid, e1)


def test_close_unassigned_process_refused(colony: ColonyEnv) -> None:
    ex = colony.new_executor()
    p = colony.submit()
    refused(
        lambda: colony.client.close(p.processid, ["x"], ex.prv),
        "Failed to close process as successful, process is not assigned",
    )
    assert colony.client.get_process(p.processid, colony.user.prv).state == 0


def test_closed_process_rejects_log_and_attribute(colony: ColonyEnv, running: Any) -> None:
    p, e1, _ = running
    colony.client.close(p.processid, ["done"], e1.prv)
    refused(lambda: colony.client.add_log(p.processid, "late", e1.prv), contains="not running")
    refused(
        lambda: colony.client.add_attribute(p.processid, "k", "v", e1.prv),
        "Failed to add attribute, process is not running",
    )


# ---------------------------------------------------------------------------- functions (§4.5)


def test_executor_cannot_add_function_for_another_executor(colony: ColonyEnv) -> None:
    e1 = colony.new_executor()
    e2 = colony.new_executor()
    refused(
        lambda: colony.client.add_function(colony.name, e1.name, "f", e2.prv),
        "Not allowed to add a function to another executor",
    )
    assert colony.client.get_functions_by_executor(colony.name, e1.name, colony.user.prv) == []


def test_non_member_cannot_add_function(colony: ColonyEnv, outsider: Member) -> None:
    e1 = colony.new_executor()
    refused(lambda: colony.client.add_function(colony.name, e1.name, "f", outsider.prv))
    refused(lambda: colony.client.add_function(colony.name, e1.name, "f", colony.colony_prv))


def test_non_member_cannot_read_logs_or_functions(colony: ColonyEnv, running: Any, outsider: Member) -> None:
    p, _e1, _ = running
    refused(lambda: colony.client.get_process_log(colony.name, p.processid, 10, -1, outsider.prv))
    refused(lambda: colony.client.get_functions_by_colony(colony.name, outsider.prv), not_member(colony.name))
