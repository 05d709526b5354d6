"""Channel log order, entry JSON, declared names and the rate bucket (domain/channels.py)."""
from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from colonies_pkg.clock import NS
from colonies_pkg.domain.channels import ChannelLog, TokenBucket, declared_channels, make_entry

T0 = 1_700_000_000 * NS


def seqs(log: ChannelLog) -> list[tuple[str, int]]:
    return [(e["senderid"], e["sequence"]) for e in json.loads(log.json(0, 0))]


def test_same_sender_is_kept_in_sequence_order_and_senders_in_arrival_order() -> None:
    log = ChannelLog()
    for sender, seq in [("a", 1), ("b", 1), ("a", 3), ("b", 2), ("a", 2), ("c", 9)]:
        log.add(make_entry(T0, sender, seq, 0, b"x", ""))
    # a2 arrived after a3: it moves in front of a3 (past b2), nothing else moves
    assert seqs(log) == [("a", 1), ("b", 1), ("a", 2), ("a", 3), ("b", 2), ("c", 9)]


@given(st.lists(st.tuples(st.sampled_from("abc"), st.integers(-5, 50)), max_size=60))
def test_any_arrival_gives_per_sender_order_and_keeps_every_entry(arrivals: list[tuple[str, int]]) -> None:
    log = ChannelLog()
    for sender, seq in arrivals:
        log.add(make_entry(T0, sender, seq, 0, b"", ""))
    got = seqs(log)
    assert sorted(got) == sorted(arrivals)
    for sender in "abc":
        mine = [s for who, s in got if who == sender]
        assert mine == sorted(mine)


def test_read_window_is_by_log_index_and_limit() -> None:
    log = ChannelLog()
    for seq in (10, 20, 30, 40):
        log.add(make_entry(T0, "a", seq, 0, b"p", ""))
    window = lambda after, limit: [e["sequence"] for e in json.loads(log.json(after, limit))]  # noqa: E731
    assert window(0, 0) == [10, 20, 30, 40]
    assert window(1, 2) == [20, 30]
    assert window(-3, 1) == [10]
    assert window(4, 10) == []
    assert window(99, 0) == []


def test_entry_json_shape() -> None:
    plain = json.loads(make_entry(T0 + 123, "sender", 7, 0, b"Hi", "").json)
    assert plain == {"sequence": 7, "timestamp": "2023-11-14T22:13:20.000000123Z", "senderid": "sender",
                     "payload": "SGk=", "type": "data"}  # inreplyto left out when 0
    reply = json.loads(make_entry(T0, "s", 0, 3, b"", "end").json)
    assert reply["sequence"] == 0 and reply["inreplyto"] == 3 and reply["payload"] == "" and reply["type"] == "end"
    assert json.loads(make_entry(T0, "s", 1, 0, None, "").json)["payload"] is None


def test_declared_channels() -> None:
    assert declared_channels(b'{"channels": ["a", "b", "a"]}') == {"a", "b"}
    assert declared_channels(b'{"channels": null}') == frozenset()
    assert declared_channels(b'{}') == frozenset()
    many = json.dumps({"channels": [f"c{i}" for i in range(150)]})
    kept = declared_channels(many)
    assert len(kept) == 100 and "c99" in kept and "c100" not in kept


def test_token_bucket_burst_then_refill() -> None:
    bucket = TokenBucket(rate=10.0, burst=3, now=T0)
    assert [bucket.take(T0) for _ in range(4)] == [True, True, True, False]
    assert bucket.take(T0 + NS // 10)  # 0.1 s later: one token back
    assert not bucket.take(T0 + NS // 10)
    assert all(bucket.take(T0 + 10 * NS) for _ in range(3))  # refills to the burst, not beyond
    assert not bucket.take(T0 + 10 * NS)
    unlimited = TokenBucket(rate=0, burst=0, now=T0)
    assert all(unlimited.take(T0) for _ in range(1000))
