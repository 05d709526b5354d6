"""Observer and dashboard-session units: histogram buckets, label caps, lifecycle tallies from
commit events, session and token expiry (with an injected clock)."""
from __future__ import annotations

import pytest

from colonies_pkg.crypto import generate_prvkey, id_of_prvkey
from colonies_pkg.domain.events import LogAdded, ProcessChanged
from colonies_pkg.errors import Forbidden
from colonies_pkg.server.observe import MAX_LABEL_VALUES, OTHER, Histogram, Observer
from colonies_pkg.server.ui.auth import LOGIN_TOKEN_SECONDS, SESSION_SECONDS, Auth, make_ticket


def test_histogram_uses_prometheus_le_buckets() -> None:
    h = Histogram((1.0, 5.0))
    for v in (0.5, 1.0, 1.5, 5.0, 9.0):
        h.observe(v)
    assert h.counts == [2, 2, 1] and h.sum == 17.0


def test_label_values_are_capped() -> None:
    obs = Observer()
    names = [obs.label("colony", f"c{i}") for i in range(MAX_LABEL_VALUES + 5)]
    assert names[:MAX_LABEL_VALUES] == [f"c{i}" for i in range(MAX_LABEL_VALUES)]
    assert set(names[MAX_LABEL_VALUES:]) == {OTHER}
    assert obs.label("colony", "c0") == "c0"


def test_lifecycle_tallies_from_events() -> None:
    obs = Observer()
    obs.on_commit([ProcessChanged("p1", 0, "c", "t", True), ProcessChanged("p1", 1, "c", "t", False, 2.0)])
    obs.on_commit([ProcessChanged("p1", 0, "c", "t", True, 0.0, "retry")])
    obs.on_commit([ProcessChanged("p1", 1, "c", "t", False, 0.5), ProcessChanged("p1", 3, "c", "t", False, 1.0,
                                                                                     "max_exec_time")])
    f = obs.families
    assert f["processes_queued_total"].values == {("c", "t"): 1.0}
    assert f["processes_retried_total"].values == {("c", "t", "retry"): 1.0}
    assert f["processes_assigned_total"].values == {("c", "t"): 2.0}
    assert f["process_wait_seconds"].values[("c", "t")].sum == 2.5
    assert f["processes_closed_total"].values == {("c", "t", "failed"): 1.0}
    assert f["processes_deadline_expired_total"].values == {("c", "t", "max_exec_time"): 1.0}
    assert obs.throughput("c")[-1] == (0, 1)
    assert obs.version("c") == (3, 0)


def test_watched_processes_see_their_logs() -> None:
    obs = Observer()
    obs.on_commit([LogAdded("p", "c")])
    assert obs.version("c", "p") == (0, 0)  # nobody watches: nothing kept
    obs.watch("p")
    obs.on_commit([LogAdded("p", "c")])
    assert obs.version("c", "p") == (0, 1)
    obs.unwatch("p")
    assert obs.version("c", "p") == (0, 0)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_sessions_and_tokens_expire() -> None:
    clock = Clock()
    auth = Auth(clock)
    token = auth.login_token(["id"], ["dev"])
    clock.now += LOGIN_TOKEN_SECONDS + 1
    with pytest.raises(Forbidden):
        auth.redeem_token(token)
    session = auth.redeem_token(auth.login_token(["id"], ["dev"]))
    assert auth.get(session.sid) is session
    clock.now += SESSION_SECONDS - 1
    assert auth.get(session.sid) is session
    clock.now += 2
    assert auth.get(session.sid) is None


def test_tickets_recover_every_signer() -> None:
    clock = Clock()
    keys = [generate_prvkey(), generate_prvkey()]
    ticket, sigs = make_ticket("dev", keys, clock=clock)
    session = Auth(clock).redeem_ticket(ticket, sigs)
    assert session.identities == [id_of_prvkey(k) for k in keys] and session.colonies == ["dev"]
    assert Auth.csrf_ok(session, session.csrf) and not Auth.csrf_ok(session, "nope") and not Auth.csrf_ok(session, None)
