"""Typed rows: what storage functions hand to the domain instead of driver rows.

Each is a NamedTuple whose fields are the selected columns in order, so a storage function maps
a driver row (sqlite3 or psycopg tuple) with `Row._make(r)` and the domain reads `row.state`.
Values are plain Python types on both backends (times are integer Unix nanoseconds; flags are
0/1 integers; JSON columns are text). Layer L2: imports nothing from the package.
"""
from __future__ import annotations

from typing import NamedTuple


class ProcessRow(NamedTuple):
    processid: str
    colonyname: str
    executortype: str
    executornames: str | None
    locationname: str
    cpu: int
    mem: int
    state: int
    isassigned: int
    assignedexecutorid: str
    waitforparents: int
    prioritytime: int
    submissiontime: int
    starttime: int
    endtime: int
    waitdeadline: int
    execdeadline: int
    retries: int
    maxwaittime: int
    maxexectime: int
    maxretries: int
    initiatorid: str
    initiatorname: str
    funcname: str
    label: str
    processgraphid: str
    spec: str
    parents: str
    children: str
    input: str
    output: str
    errors: str


class QueueRow(NamedTuple):
    """What decides who may take an assignable process (domain.events.became_assignable)."""

    processid: str
    colonyname: str
    executortype: str
    executornames: str | None
    locationname: str
    cpu: int
    mem: int


class ExpiredRow(NamedTuple):
    """A running process past its exec deadline: its queue columns and what the retry decision needs."""

    processid: str
    colonyname: str
    executortype: str
    executornames: str | None
    locationname: str
    cpu: int
    mem: int
    retries: int
    maxretries: int
    maxwaittime: int


class MemberRow(NamedTuple):
    """A process of a graph, with what resolution and drawing need."""

    processid: str
    state: int
    parents: str
    children: str
    waitforparents: int
    executortype: str
    colonyname: str
    spec: str


class UnfinishedRow(NamedTuple):
    processid: str
    state: int
    executortype: str
    colonyname: str


class GraphRow(NamedTuple):
    processgraphid: str
    colonyname: str
    initiatorid: str
    initiatorname: str
    rootprocessids: str
    state: int
    submissiontime: int
    starttime: int
    endtime: int


class CronRow(NamedTuple):
    cronid: str
    colonyname: str
    name: str
    initiatorid: str
    initiatorname: str
    cronexpression: str
    interval: int
    random: int
    anchor: int
    nextrun: int
    lastrun: int
    workflowspec: str
    prevprocessgraphid: str
    waitforprevprocessgraph: int


class GeneratorRow(NamedTuple):
    generatorid: str
    colonyname: str
    name: str
    initiatorid: str
    initiatorname: str
    workflowspec: str
    trigger: int
    timeout: int
    firstpack: int
    lastrun: int


class FileRow(NamedTuple):
    fileid: str
    colonyname: str
    label: str
    name: str
    size: int
    sequencenr: int
    checksum: str
    checksumalg: str
    ref: str
    objectkey: str
    added: int
    removed: int


class SnapshotRow(NamedTuple):
    snapshotid: str
    colonyname: str
    label: str
    name: str
    added: int


def columns(row_type: type[NamedTuple]) -> str:
    """The SELECT list of a row type: its field names in order."""
    return ", ".join(row_type._fields)
