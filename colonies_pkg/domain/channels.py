"""Process channels (CHANNELS_BLUEPRINTS.md §1–2): who may use a channel, which channels a process
declares, the entry JSON, one channel's in-memory log and the per-process rate limit.

Layer L3. Nothing here touches asyncio or the clock: time is a parameter. The registry that holds
the logs and their subscribers in memory is `colonies_pkg.channelhub` (L4); the only database
work is `access`, one read per channel request (no write transaction per append).
"""
from __future__ import annotations

from typing import Any, NamedTuple

import msgspec

from ..clock import NS, format_time
from ..config import ServerConfig
from ..errors import Forbidden, NotFound
from ..models.process import ProcessState
from ..storage import processes as store
from ..storage.db import Tx
from . import security

MAX_CHANNELS_PER_PROCESS = 100  # names past the 100th in spec.channels are ignored, as in Go
ENDED = frozenset({ProcessState.SUCCESS, ProcessState.FAILED, ProcessState.CANCELLED})
_channels_decoder = msgspec.json.Decoder(dict[str, Any])


class Limits(NamedTuple):
    """The caps of README "Channels"; each one refuses an append with a 4xx, nothing is evicted."""

    channel_entries: int = 10_000
    channel_bytes: int = 64 * 1024**2
    process_entries: int = 100_000
    process_bytes: int = 256 * 1024**2
    total_bytes: int = 1024**3
    payload_bytes: int = 10 * 1024**2
    rate: float = 100.0  # appends per second per process (all its channels, both parties); ≤ 0: no limit
    burst: int = 500
    subscriber_queue: int = 10_000

    @classmethod
    def from_config(cls, cfg: ServerConfig) -> Limits:
        return cls(cfg.channel_max_entries, cfg.channel_max_bytes, cfg.channel_process_max_entries,
                   cfg.channel_process_max_bytes, cfg.channel_total_max_bytes, cfg.channel_max_payload_bytes,
                   cfg.channel_rate, cfg.channel_burst)


class Access(NamedTuple):
    """What a channel request needs to know about the process, read fresh from the database."""

    processid: str
    colonyname: str
    state: int
    initiatorid: str
    executorid: str
    declared: frozenset[str]

    def is_party(self, caller: str) -> bool:
        """The submitter or the currently assigned executor (nobody else in the colony)."""
        return bool(caller) and caller in (self.initiatorid, self.executorid)

    @property
    def ended(self) -> bool:
        return self.state in ENDED


def declared_channels(spec_json: str | bytes) -> frozenset[str]:
    """The channel names of a stored spec: its `channels` list, duplicates ignored, first 100 kept."""
    try:
        names = _channels_decoder.decode(spec_json).get("channels") or []
    except msgspec.DecodeError:
        return frozenset()
    kept: dict[str, None] = {}
    for name in names:
        if isinstance(name, str):
            kept[name] = None
            if len(kept) == MAX_CHANNELS_PER_PROCESS:
                break
    return frozenset(kept)


def access(tx: Tx, now: int, caller: str, processid: str) -> Access:
    """The process behind a channel request; 404 when unknown, 403 unless an approved member."""
    row = store.get_row(tx, processid)
    if row is None:
        raise NotFound("Process not found")
    security.require_member(tx, caller, row.colonyname)
    return Access(processid, row.colonyname, row.state, row.initiatorid, row.assignedexecutorid,
                  declared_channels(row.spec))


def alive(tx: Tx, now: int, processids: list[str]) -> set[str]:
    """Which of these processes still exist and have not ended (to free channels of removed ones)."""
    found = set()
    for pid in processids:
        row = store.get_row(tx, pid)
        if row is not None and row.state not in ENDED:
            found.add(pid)
    return found


def require_party(acc: Access, caller: str, verb: str) -> None:
    if not acc.is_party(caller):
        raise Forbidden(f"Not authorized to {verb} channel")


def channel_not_found() -> NotFound:
    return NotFound("Channel not found")


# --- entries ----------------------------------------------------------------------------------
class Entry(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One channel entry as sent in read replies and pushes (key order as Go writes it)."""

    sequence: int
    inreplyto: int = 0
    timestamp: str
    senderid: str
    payload: bytes | None
    type: str = ""
    error: str = ""


_encode = msgspec.json.encode


class Stored(NamedTuple):
    senderid: str
    sequence: int
    size: int  # payload bytes, what the caps count
    json: bytes  # the encoded Entry, built once


def make_entry(now: int, senderid: str, sequence: int, inreplyto: int, payload: bytes | None,
               payloadtype: str) -> Stored:
    entry = Entry(sequence=sequence, inreplyto=inreplyto, timestamp=format_time(now), senderid=senderid,
                  payload=payload, type=payloadtype or "data")
    return Stored(senderid, sequence, len(payload or b""), _encode(entry))


def overflow_notice(now: int) -> bytes:
    """The entry pushed to a subscriber that fell too far behind, before it is dropped (as Go)."""
    return _encode(Entry(sequence=0, timestamp=format_time(now), senderid="", payload=None,
                         error="subscriber disconnected: buffer full"))


def json_array(items: list[bytes]) -> bytes:
    return b"[" + b",".join(items) + b"]"


class ChannelLog:
    """An append-only log kept in per-sender sequence order, arrival order across senders (§2.4)."""

    __slots__ = ("entries", "nbytes")

    def __init__(self) -> None:
        self.entries: list[Stored] = []
        self.nbytes = 0

    def __len__(self) -> int:
        return len(self.entries)

    def add(self, new: Stored) -> None:
        """Append, then move the entry back before the first earlier entry of the same sender with
        a larger sequence. Stops at the sender's previous entry with a smaller one: O(1) in order."""
        entries = self.entries
        at = len(entries)
        for i in range(len(entries) - 1, -1, -1):
            e = entries[i]
            if e.senderid != new.senderid:
                continue
            if e.sequence <= new.sequence:
                break
            at = i
        entries.insert(at, new)
        self.nbytes += new.size

    def json(self, afterseq: int, limit: int) -> bytes:
        """Entries from log index `afterseq` (an index, not a sequence), at most `limit` (≤ 0: all)."""
        start = max(afterseq, 0)
        end = start + limit if limit > 0 else None
        return json_array([e.json for e in self.entries[start:end]])


class TokenBucket:
    """Rate limit: `burst` tokens, refilled at `rate` per second; starts full."""

    __slots__ = ("burst", "last", "rate", "tokens")

    def __init__(self, rate: float, burst: int, now: int) -> None:
        self.rate, self.burst, self.tokens, self.last = rate, burst, float(burst), now

    def take(self, now: int) -> bool:
        if self.rate <= 0:
            return True
        self.tokens = min(float(self.burst), self.tokens + (now - self.last) / NS * self.rate)
        self.last = max(now, self.last)
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True
