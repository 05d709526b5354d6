"""Cron and Generator shapes (PROTOCOL §5.11)."""
from __future__ import annotations

import msgspec


class Cron(msgspec.Struct):
    cronid: str = ""
    initiatorid: str = ""
    initiatorname: str = ""
    colonyname: str = ""
    name: str = ""
    cronexpression: str = ""
    interval: int = -1
    random: bool = False
    nextrun: str = "0001-01-01T00:00:00Z"
    lastrun: str = "0001-01-01T00:00:00Z"
    workflowspec: str = ""
    prevprocessgraphid: str = ""
    waitforprevprocessgraph: bool = False
    checkerperiod: int = 0


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
    trigger: int = 0
    timeout: int = -1
    firstpack: str = "0001-01-01T00:00:00Z"
    lastrun: str = "0001-01-01T00:00:00Z"
    queuesize: int = 0
    checkerperiod: int = 0
