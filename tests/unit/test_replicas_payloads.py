"""NOTIFY payloads between replicas: events survive the round trip with their types, duplicates
are sent once, a large batch is split under PostgreSQL's 8000-byte payload limit, and a replica
ignores what it sent itself (checked by the sender name travelling with the events)."""
from __future__ import annotations

from colonies_pkg.domain.events import ColonyResumed, CronsChanged, ProcessChanged, ProcessesRemoved
from colonies_pkg.replicas import MAX_PAYLOAD, decode, encode


def test_events_round_trip_with_their_types() -> None:
    events = [ProcessChanged("p1", 0, "c", "t", True), ColonyResumed("c"), CronsChanged(),
              ProcessesRemoved("c", ("p1", "p2")), ProcessChanged("p1", 0, "c", "t", True)]
    [payload] = encode("replica-a", events)
    sender, got = decode(payload)
    assert sender == "replica-a"
    assert got == events[:4]  # the duplicate is sent once
    assert isinstance(got[3].processids, tuple)


def test_large_batches_are_split_under_the_payload_limit() -> None:
    events = [ProcessChanged(f"{i:064d}", 2, "colony", "type") for i in range(500)]
    payloads = encode("r", events)
    assert len(payloads) > 1 and all(len(p.encode()) <= MAX_PAYLOAD + 200 for p in payloads)
    assert [e for p in payloads for e in decode(p)[1]] == events


def test_unknown_event_names_are_ignored() -> None:
    assert decode('{"r":"x","e":[["Nope",1],["CronsChanged"]]}') == ("x", [CronsChanged()])
