"""The CLI reads every reply through its reply Struct (`rpc/replies.py`, `models`): against a real
`colonies dev` server, directly and behind a real proxy that rewrites replies and /pubsub pushes
the way a server of another version would send them.

* A reply of another shape (a missing id, a wrong type, a number past int64) is one `Error:` line
  naming the field, and a hint, with exit code 1: never a traceback, never a half-printed table.
* `--json` prints a reply exactly as the server sent it (keys unknown to this CLI included).
* Go's nulls for empty lists read as empty, as the Go CLI reads them.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import REPO, Cli, ServerProcess, uniq
from .rewriting_proxy import RewritingProxy

HEX = r"[0-9a-f]{64}"


@pytest.fixture(scope="module")
def proxy(dev_server: ServerProcess) -> Iterator[RewritingProxy]:
    with RewritingProxy(dev_server.port) as p:
        yield p


@pytest.fixture
def via(proxy: RewritingProxy, cli: Cli) -> Iterator[Cli]:
    """The `cli` runner, talking to the server through the proxy (no rewrites left between tests)."""
    through = Cli(cli.server)
    through.env = {**cli.env, "COLONIES_SERVER_PORT": str(proxy.port)}
    yield through
    proxy.rewrite.clear()


@pytest.fixture(scope="module")
def done(cli: Cli) -> str:
    """A successful process with a log line (the sample executor's helloworld)."""
    result = cli.ok("function", "exec", "--func", "helloworld", "--targettype", "cli", "--wait")
    found = re.search(rf"ProcessId=({HEX})", result.err)
    assert found, result
    return found.group(1)


def clear_error(result: Any, *fragments: str) -> str:
    """Exit code 1, ending in a one-line `Error:` and a `Hint:`; no traceback, nothing on stdout."""
    assert result.rc == 1, result
    assert "Traceback" not in result.err, result
    assert result.out == "", result
    lines = result.err.strip().splitlines()
    assert lines[-2].startswith("Error: ") and lines[-1].startswith("Hint: "), result
    for fragment in fragments:
        assert fragment in result.err, (fragment, result)
    return result.err


# --- --json prints what the server sent; tables read the Structs --------------------------------
def test_json_prints_the_reply_as_sent_and_tables_ignore_unknown_keys(via: Cli, proxy: RewritingProxy,
                                                                      done: str) -> None:
    proxy.rewrite["getprocessmsg"] = lambda p: {"fromanewerserver": {"z": [1, 2.5]}, **p}
    shown = via.ok("process", "get", "-p", done, "--json").out
    assert shown == json.dumps(json.loads(proxy.sent["getprocessmsg"]), indent=2, ensure_ascii=False) + "\n"
    assert list(json.loads(shown))[:2] == ["fromanewerserver", "processid"]  # key order kept
    table = via.ok("process", "get", "-p", done).out
    assert re.search(rf"\| Id +\| {done} +\|", table) and re.search(r"\| State +\| Successful +\|", table)
    assert re.search(r"\| Func +\| helloworld +\|", table) and "fromanewerserver" not in table
    assert via.ok("process", "get", "-p", done, "--out").out == "helloworld\n"


def test_a_process_list_prints_as_sent_and_filters_on_the_struct(via: Cli, proxy: RewritingProxy,
                                                                 done: str) -> None:
    proxy.rewrite["getprocessesmsg"] = lambda ps: [{**p, "extra": True} for p in ps]
    listed = via.ok("process", "pss", "--func", "helloworld", "--count", "100", "--json").out
    processes = json.loads(listed)
    assert done in [p["processid"] for p in processes] and all(p["extra"] is True for p in processes)
    assert {p["spec"]["funcname"] for p in processes} == {"helloworld"}
    assert listed == json.dumps(processes, indent=2) + "\n"
    assert via.ok("process", "pss", "--func", "no-such-function", "--json").out == "[]\n"


def test_log_replies_print_as_sent(via: Cli, proxy: RewritingProxy, done: str) -> None:
    proxy.rewrite["getlogsmsg"] = lambda logs: [{**entry, "level": "info"} for entry in logs]
    logs = json.loads(via.ok("log", "get", "-p", done, "--json").out)
    assert logs and logs[0]["level"] == "info" and logs[0]["processid"] == done
    assert via.ok("log", "get", "-p", done).out == "Hello from the colonies-py sample executor\n"


# --- Go's nulls -----------------------------------------------------------------------------------
def go_nulls(p: dict[str, Any]) -> dict[str, Any]:
    """The process as a Go server may write it: nil slices and maps as null."""
    spec = {**p["spec"], "kwargs": None, "fs": None,
            "conditions": {**p["spec"]["conditions"], "executornames": None, "gpu": None}}
    return {**p, "attributes": None, "in": None, "out": None, "spec": spec}


def test_go_nulls_read_as_empty(via: Cli, proxy: RewritingProxy, done: str) -> None:
    proxy.rewrite["getprocessmsg"] = go_nulls
    table = via.ok("process", "get", "-p", done).out
    assert "No attributes found" in table and re.search(r"\| KwArgs +\| None +\|", table)
    assert re.search(r"\| ExecutorNames +\| None +\|", table) and re.search(r"\| GPUs +\| 0 +\|", table)
    assert via.ok("process", "get", "-p", done, "--out").out == ""
    proxy.rewrite["getprocessesmsg"] = lambda ps: None  # Go's empty list
    empty = via.ok("process", "pss")
    assert empty.out == "" and "No successful processes found" in empty.err
    assert via.ok("process", "pss", "--json").out == "[]\n"


# --- replies of another shape -----------------------------------------------------------------------
def without(key: str) -> Any:
    return lambda obj: {k: v for k, v in obj.items() if k != key}


def first(fn: Any) -> Any:
    return lambda items: [fn(items[0]), *items[1:]]


def with_spec(**fields: Any) -> Any:
    return lambda p: {**p, "spec": {**p["spec"], **fields}}


SHAPES = {  # name: (argv after the process id is filled in, msgtype, rewrite, what the error names)
    "missing id": (("process", "get", "-p", "{pid}"), "getprocessmsg", without("processid"),
                   "Object missing required field `processid`"),
    "missing id, --json": (("process", "get", "-p", "{pid}", "--json"), "getprocessmsg", without("processid"),
                           "Object missing required field `processid`"),
    "state as text": (("workflow", "get", "--workflowid", "{graph}"), "getprocessmsg",
                      lambda p: {**p, "state": "successful"}, "Expected `int`, got `str` - at `$.state`"),
    "past int64": (("process", "get", "-p", "{pid}"), "getprocessmsg", lambda p: {**p, "prioritytime": 2**63},
                   "Expected `int` <= 9223372036854775807 - at `$.prioritytime`"),
    "funcname a number": (("process", "pss"), "getprocessesmsg", first(with_spec(funcname=7)),
                          "Expected `str`, got `int` - at `$[0].spec.funcname`"),
    "args an object": (("process", "assign", "--timeout", "1"), "assignprocessmsg", with_spec(args={"a": 1}),
                       "Expected `array | null`, got `object` - at `$.spec.args`"),
    "log timestamp as text": (("log", "get", "-p", "{pid}"), "getlogsmsg", first(lambda e: {**e, "timestamp": "now"}),
                              "Expected `int`, got `str` - at `$[0].timestamp`"),
    "log search": (("log", "search", "--text", "Hello"), "searchlogsmsg", first(lambda e: {**e, "message": 1}),
                   "Expected `str`, got `int` - at `$[0].message`"),
    "submit reply": (("function", "exec", "--func", "helloworld", "--targettype", "cli", "--wait"),
                     "submitfuncspecmsg", without("processid"), "Object missing required field `processid`"),
    "blueprint time": (("blueprint", "get", "--name", "{blueprint}"), "getblueprintmsg",
                       lambda b: {**b, "metadata": {**b["metadata"], "createdAt": "yesterday"}},
                       "Invalid RFC3339 encoded datetime - at `$.metadata.createdAt`"),
    "blueprint list": (("blueprint", "ls", "--json"), "getblueprintsmsg", first(lambda b: {**b, "kind": ["K"]}),
                       "Expected `str`, got `array` - at `$[0].kind`"),
    "blueprint history": (("blueprint", "history", "--name", "{blueprint}"), "getblueprinthistorymsg",
                          first(lambda h: {**h, "generation": 1.5}), "Expected `int`, got `float` - at `$[0].generation`"),
}


@pytest.fixture(scope="module")
def names(cli: Cli, done: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """What the argv of SHAPES refer to: a process, a workflow and a blueprint on the server."""
    d = tmp_path_factory.mktemp("shapes")
    (d / "wf.json").write_text(json.dumps([{"nodename": "a", "funcname": "helloworld",
                                            "conditions": {"executortype": "cli"}}]))
    submitted = cli.ok("workflow", "submit", "--spec", str(d / "wf.json"), "--wait")
    graph = re.search(rf"WorkflowID=({HEX})", submitted.err)
    assert graph, submitted
    kind, blueprint = uniq("Kind"), uniq("bp")
    (d / "def.json").write_text(json.dumps({"kind": "BlueprintDefinition", "metadata": {"name": uniq("def")},
                                            "spec": {"names": {"kind": kind}}}))
    (d / "bp.json").write_text(json.dumps({"kind": kind, "metadata": {"name": blueprint}, "spec": {"on": True}}))
    cli.ok("blueprint", "definition", "add", "--spec", str(d / "def.json"))
    cli.ok("blueprint", "add", "--spec", str(d / "bp.json"))
    return {"pid": done, "graph": graph.group(1), "blueprint": blueprint}


@pytest.mark.parametrize("shape", SHAPES)
def test_a_reply_of_another_shape_is_a_clear_error(via: Cli, proxy: RewritingProxy, names: dict[str, str],
                                                   shape: str) -> None:
    argv, msgtype, rewrite, names_the_field = SHAPES[shape]
    proxy.rewrite[msgtype] = rewrite
    if msgtype == "assignprocessmsg":  # a process of a type only a new executor takes, to assign to it
        etype = uniq("type")
        via.ok("function", "exec", "--func", "f", "--targettype", etype)
        result = via(*argv, env={"COLONIES_PRVKEY": register(via, etype)})
    else:
        result = via(*(part.format(**names) for part in argv))
    err = clear_error(result, "Error: invalid reply from server (HTTP 200): ", names_the_field)
    assert f"Hint: the server at 127.0.0.1:{proxy.port} sent a {msgtype} reply of another shape" in err


def register(cli: Cli, executortype: str) -> str:
    """A new approved executor of `executortype`; returns its private key."""
    prv, eid = cli.keypair()
    cli.ok("executor", "add", "--executorid", eid, "--name", uniq("e"), "--type", executortype, "--approve")
    return prv


# --- /pubsub pushes ----------------------------------------------------------------------------------
def test_waiting_reads_pushes_through_the_process_struct(via: Cli, proxy: RewritingProxy) -> None:
    out = via.ok("function", "exec", "--func", "echo", "--args", "through", "the proxy", "--targettype", "cli",
                 "--out")
    assert out.out == "through\nthe proxy\n"
    proxy.rewrite["push"] = go_nulls  # Go's nulls in a push read as empty too
    assert via.ok("function", "exec", "--func", "echo", "--targettype", "cli", "--out").out == ""


def test_a_push_of_another_shape_ends_the_wait_with_a_clear_error(via: Cli, proxy: RewritingProxy) -> None:
    proxy.rewrite["push"] = lambda p: {**p, "errors": "not a list"}
    result = via("function", "exec", "--func", "helloworld", "--targettype", "cli", "--wait")
    pid = re.search(rf"ProcessId=({HEX})", result.err)
    assert pid, result
    assert result.rc == 1 and "Traceback" not in result.err, result
    assert (f"Error: cannot wait for process {pid.group(1)}: invalid reply from server (push on /pubsub): "
            "Expected `array`, got `str` - at `$.errors`") in result.err
    assert f"Hint: the server at 127.0.0.1:{proxy.port} pushed a process of another shape" in result.err


# --- executors: capabilities are the registering client's JSON ---------------------------------------
def test_executor_capabilities_of_another_shape_are_named_and_skipped(cli: Cli, tmp_path: Path) -> None:
    spec = tmp_path / "executor.json"
    spec.write_text(json.dumps({"executortype": "odd", "capabilities": {
        "hardware": [{"model": "broken", "nodes": "two"}, {"model": "fine", "nodes": 2, "gpu": None}],
        "software": {"name": "sw", "type": "k8s", "version": "1"}}}))
    _, eid = cli.keypair()
    name = uniq("odd")
    cli.ok("executor", "add", "--spec", str(spec), "--executorid", eid, "--name", name)
    shown = cli.ok("executor", "get", "--name", name)
    assert "Skipping capabilities.hardware[0]: not a Hardware (Expected `int`, got `str` - at `$.nodes`)" in shown.err
    assert re.search(r"\| Model +\| fine +\|", shown.out) and "broken" not in shown.out
    assert re.search(r"\| Nodes +\| 2 +\|", shown.out) and re.search(r"\| Name +\| sw +\|", shown.out)
    stored = cli.json("executor", "get", "--name", name)["capabilities"]["hardware"]
    assert [h["model"] for h in stored] == ["broken", "fine"]  # --json shows what the server holds


# --- monitor: the statistics Struct --------------------------------------------------------------
def poll_until(fn: Any, what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := fn()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)
    return value


def scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    return {m.group(1): float(m.group(2)) for m in re.finditer(r"^(colonies_\w+) (\S+)$", text, re.MULTILINE)}


def test_monitor_exports_the_statistics_it_decodes(via: Cli, proxy: RewritingProxy) -> None:
    monitor = subprocess.Popen([sys.executable, "colonies.py", "monitor", "start", "--port", "0", "--interval", "0.2",
                                "--listen", "127.0.0.1"], cwd=REPO, env=via.env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        assert monitor.stdout is not None
        banner = monitor.stdout.readline()
        port = int(re.search(r"http://127\.0\.0\.1:(\d+)/metrics", banner).group(1))  # type: ignore[union-attr]
        stats = via.json("server", "stats")
        up = poll_until(lambda: (m := scrape(port)).get("colonies_monitor_up") == 1 and m, "a first poll")
        assert up["colonies_server_colonies"] == stats["colonies"]
        proxy.rewrite["getstatisticsmsg"] = lambda s: {**s, "colonies": "many"}
        down = poll_until(lambda: (m := scrape(port)).get("colonies_monitor_up") == 0 and m,
                          "a poll of the rewritten statistics")
        assert down["colonies_server_colonies"] == stats["colonies"]  # the last good value stays
    finally:
        monitor.terminate()
        _, err = monitor.communicate(timeout=30)
    assert "Expected `int`, got `str` - at `$.colonies`" in err and "Traceback" not in err
