"""Cron and Generator shapes (PROTOCOL §5.11)."""
from __future__ import annotations

import msgspec

from .ints import Int64


class Cron(msgspec.Struct):
    cronid: str = ""
    initiatorid: str = ""
    initiatorname: str = ""
    colonyname: str = ""
    name: str = ""
    cronexpression: str = ""
    interval: Int64 = -1
    random: bool = False
    nextrun: str = "0001-01-01T00:00:00Z"
    lastrun: str = "0001-01-01T00:00:00Z"
    workflowspec: str = ""
    prevprocessgraphid: str = ""
    waitforprevprocessgraph: bool = False
    checkerperiod: Int64 = 0


class CronRequest(Cron):
    """What clients send; pycolonies spells the wait flag `waitforprevprocessgrap`."""

    waitforprevprocessgrap: bool = False


class Generator(msgspec.Struct):
    generatorid: str = ""
    initiatorid: str = ""
    initiatorname: str = ""
    colonyname: str = ""
    name: str = ""
    workflowspec: str = ""
    trigger: Int64 = 0
    timeout: Int64 = -1
    firstpack: str = "0001-01-01T00:00:00Z"
    lastrun: str = "0001-01-01T00:00:00Z"
    queuesize: Int64 = 0
    checkerperiod: Int64 = 0
