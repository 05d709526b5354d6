"""Every file in examples/ through the CLI (and the tutorial's Python scripts through pycolonies)
against a `colonies dev` server, with the tutorial executors running where a file needs them."""
from __future__ import annotations

import importlib.util
import json
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import REPO, Cli, uniq

EXAMPLES = REPO / "examples"
SERVED_TYPES = {"cli", "helloworld-executor", "wf-executor"}  # sample executor + the tutorial executors
HAS_PYCOLONIES = importlib.util.find_spec("pycolonies") is not None


class Script:
    """A tutorial executor (examples/python/*.py) running against the module's server."""

    def __init__(self, cli: Cli, name: str) -> None:
        self.proc = subprocess.Popen([sys.executable, str(EXAMPLES / "python" / name), uniq(name[:-3])],
                                     cwd=REPO, env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if "registered" not in line:
            self.stop()
            output = self.output()
            self.close()
            pytest.fail(f"{name} did not start: {line}{output}")

    def output(self) -> str:
        return self.proc.stdout.read() if self.proc.stdout and self.proc.poll() is not None else ""

    def close(self) -> None:
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # the executor unregisters itself
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture(scope="module")
def tutorial_executors(cli: Cli) -> Iterator[dict[str, Script]]:
    if not HAS_PYCOLONIES:
        yield {}
        return
    scripts = {"helloworld-executor": Script(cli, "helloworld_executor.py"),
               "wf-executor": Script(cli, "wf_executor.py")}
    try:
        yield scripts
    finally:
        for script in scripts.values():
            script.stop()
            script.close()


def _types(spec: object) -> set[str]:
    specs = spec if isinstance(spec, list) else [spec]
    return {(s.get("conditions") or {}).get("executortype", "") for s in specs}


def _needs_tutorial(types: set[str]) -> bool:
    return bool(types & {"helloworld-executor", "wf-executor"})


def _files(folder: str) -> list[Path]:
    return sorted((EXAMPLES / folder).glob("*.json"))


@pytest.mark.parametrize("path", _files("functions"), ids=lambda p: p.name)
def test_function_spec_examples(cli: Cli, tutorial_executors: dict[str, Script], path: Path) -> None:
    types = _types(json.loads(path.read_text()))
    if _needs_tutorial(types) and not tutorial_executors:
        pytest.skip("pycolonies is not installed (needed by the tutorial executor)")
    if types <= SERVED_TYPES:
        result = cli.ok("function", "submit", "--spec", str(path.relative_to(REPO)), "--wait")
        assert "Process finished successfully" in result.err
        pid = re.search(r"ProcessId=([0-9a-f]{64})", result.err).group(1)
        assert pid in {p["processid"] for p in cli.json("process", "pss", "--count", "100")}
    else:  # e.g. a container executor: nobody serves it here, so it waits; then clean up
        pid = re.search(r"ProcessId=([0-9a-f]{64})", cli.ok("function", "submit", "--spec", str(path)).err).group(1)
        assert cli.json("process", "get", "-p", pid)["state"] == 0
        cli.ok("process", "remove", "-p", pid)


@pytest.mark.parametrize("path", _files("executors"), ids=lambda p: p.name)
def test_executor_spec_examples(cli: Cli, path: Path) -> None:
    _, eid = cli.keypair()
    name = uniq("example")
    cli.ok("executor", "add", "--spec", str(path), "--executorid", eid, "--name", name, "--approve")
    got = cli.json("executor", "get", "--name", name)
    assert got["executortype"] == json.loads(path.read_text())["executortype"] and got["state"] == 1
    cli.ok("executor", "remove", "--name", name)


@pytest.mark.parametrize("path", _files("workflows"), ids=lambda p: p.name)
def test_workflow_examples(cli: Cli, tutorial_executors: dict[str, Script], path: Path) -> None:
    types = _types(json.loads(path.read_text()))
    if _needs_tutorial(types) and not tutorial_executors:
        pytest.skip("pycolonies is not installed (needed by the tutorial executor)")
    if types <= SERVED_TYPES:
        result = cli.ok("workflow", "submit", "--spec", str(path), "--wait")
        assert "Workflow finished successfully" in result.err
        wid = re.search(r"WorkflowID=([0-9a-f]{64})", result.err).group(1)
        processes = cli.json("workflow", "get", "--workflowid", wid)["processes"]
        if path.name == "sum_wf.json":  # the tutorial: the sum node gets gen's output as input
            by_node = {p["spec"]["nodename"]: p for p in processes}
            assert by_node["sum_node"]["out"] == [sum(by_node["gen_node"]["out"])]
    else:
        wid = re.search(r"WorkflowID=([0-9a-f]{64})", cli.ok("workflow", "submit", "--spec", str(path)).err).group(1)
        cli.ok("workflow", "remove", "--workflowid", wid)


@pytest.mark.parametrize("path", _files("cron"), ids=lambda p: p.name)
def test_cron_examples(cli: Cli, path: Path) -> None:
    result = cli.ok("cron", "add", "--name", uniq("cron"), "--interval", "3600", "--spec", str(path))
    cid = re.search(r"CronID=([0-9a-f]{64})", result.err).group(1)
    assert cli.json("cron", "get", "--cronid", cid)["interval"] == 3600
    cli.ok("cron", "remove", "--cronid", cid)


@pytest.mark.parametrize("path", _files("generators"), ids=lambda p: p.name)
def test_generator_examples(cli: Cli, path: Path) -> None:
    result = cli.ok("generator", "add", "--spec", str(path), "--name", uniq("gen"), "--trigger", "5")
    gid = re.search(r"GeneratorID=([0-9a-f]{64})", result.err).group(1)
    assert cli.json("generator", "get", "--generatorid", gid)["trigger"] == 5
    cli.ok("generator", "remove", "--generatorid", gid)


@pytest.mark.skipif(not HAS_PYCOLONIES, reason="pycolonies is not installed")
@pytest.mark.parametrize("script, expected", [("helloworld.py", r"^helloworld$"),
                                              ("helloworld_workflow.py", r"^helloworld$"),
                                              ("submit_wf.py", r"^\d+$")])
def test_tutorial_submit_scripts(cli: Cli, tutorial_executors: dict[str, Script], script: str,
                                 expected: str) -> None:
    result = subprocess.run([sys.executable, str(EXAMPLES / "python" / script)], cwd=REPO, env=cli.env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert re.match(r"^(Process|Workflow) [0-9a-f]{64} submitted$", lines[0]), lines
    assert re.match(expected, lines[-1]), lines


@pytest.mark.skipif(not HAS_PYCOLONIES, reason="pycolonies is not installed")
def test_follow_the_tutorial_executor(cli: Cli, tutorial_executors: dict[str, Script]) -> None:
    result = cli.ok("function", "submit", "--spec", "examples/functions/helloworld.json", "--follow")
    assert result.out == "Hello from executor\n"
    assert "Process finished successfully" in result.err
    pid = re.search(r"ProcessId=([0-9a-f]{64})", result.err).group(1)
    assert cli.ok("process", "get", "-p", pid, "--out").out == "helloworld\n"
