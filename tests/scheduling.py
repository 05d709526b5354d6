"""How `python -m pytest` spreads the suite over its pytest-xdist workers (pyproject: `-n 4 --dist loadfile`).

Most of the suite's wall time is spent waiting on real things (a cron's next second, a long-poll's
timeout, a server or container starting), not on the CPU, so four workers on two cores overlap
those waits. Each worker runs whole units, in one process, in collection order:

* a test file is one unit, so its module-scoped fixtures (the e2e servers of both backends, the
  CLI's dev server) start once, exactly as without workers;
* a folder whose tests share session-scoped real parts is one unit: tests/containers (one podman
  image, podman is never driven by two workers at once) and tests/cfs (one dev server, one moto).

The units known to take longest start first (so that none starts last and runs alone); the rest
follow by number of tests. The order only decides which worker runs what, never whether a test
runs: every collected test is run exactly once.
"""
from __future__ import annotations

from typing import Any

from xdist.scheduler import LoadFileScheduling

# Folders that are one unit each (their tests share session-scoped servers, image or store).
WHOLE_FOLDERS = ("tests/containers/", "tests/cfs/")

# The longest units of a serial run (sum of setup+call+teardown, seconds, measured 2026-12-05),
# longest first; a unit not listed follows them, by number of tests.
LONGEST_FIRST = (
    "tests/containers",                       # 65
    "tests/e2e/test_crons_generators.py",     # 62
    "tests/cli/test_cli_commands.py",         # 46
    "tests/postgres/test_replicas.py",        # 41
    "tests/e2e/test_workflows.py",            # 35
    "tests/e2e/test_tutorial.py",             # 32
    "tests/test_zipapp.py",                   # 28
    "tests/e2e/test_bad_input.py",            # 24
    "tests/e2e/test_dashboard.py",            # 23
    "tests/e2e/test_channels.py",             # 23
    "tests/cli/test_cli_offline.py",          # 20
    "tests/cfs",                              # 20
    "tests/e2e/test_processes.py",            # 19
)


def unit_of(nodeid: str) -> str:
    """The unit a test belongs to: its whole folder for WHOLE_FOLDERS, else its file."""
    for folder in WHOLE_FOLDERS:
        if nodeid.startswith(folder):
            return folder.rstrip("/")
    return nodeid.split("::", 1)[0]


class GroupedScheduling(LoadFileScheduling):
    """loadfile with WHOLE_FOLDERS as single units, the longest units first."""

    def _split_scope(self, nodeid: str) -> str:
        return unit_of(nodeid)

    def schedule(self) -> None:
        if self.collection is None and self.collection_is_completed:
            # Put the units in the queue in our order first: the base class then fills the queue with
            # `workqueue[unit] = tests`, which keeps the place of a key already there. (Should a
            # later xdist build its queue differently, only the order changes.)
            units: dict[str, dict[str, bool]] = {}
            for nodeid in next(iter(self.registered_collections.values())):
                units.setdefault(self._split_scope(nodeid), {})[nodeid] = False
            rank = {unit: i for i, unit in enumerate(LONGEST_FIRST)}
            order = sorted(units, key=lambda u: (rank.get(u, len(rank)), -len(units[u])))
            self.workqueue.clear()
            for unit in order:
                self.workqueue[unit] = units[unit]
        super().schedule()


def make_scheduler(config: Any, log: Any) -> GroupedScheduling | None:
    """The scheduler for `--dist loadfile` (the suite's default); any other --dist keeps xdist's own."""
    if config.getvalue("dist") != "loadfile":
        return None
    return GroupedScheduling(config, log)
