"""Every command group of the CLI guide against a real `colonies dev` server (one per module),
checking exit codes, printed values and what the server holds afterwards."""
from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
import time

from .conftest import COLONY_ID, REPO, USER_ID, Cli, uniq

HEX = r"[0-9a-f]{64}"


def field(text: str, name: str) -> str:
    m = re.search(rf"\b{name}=({HEX})", text)
    assert m, f"no {name}=<id> in:\n{text}"
    return m.group(1)


def new_executor(cli: Cli, executortype: str | None = None) -> tuple[str, str, str, str]:
    """Register and approve an executor with a fresh key: (name, type, prvkey, id)."""
    prv, eid = cli.keypair()
    name, etype = uniq("exec"), executortype or uniq("type")
    cli.ok("executor", "add", "--executorid", eid, "--name", name, "--type", etype, "--approve")
    return name, etype, prv, eid


def submit(cli: Cli, executortype: str, *extra: str) -> str:
    result = cli.ok("function", "exec", "--func", "helloworld", "--targettype", executortype, *extra)
    return field(result.err, "ProcessId")


# --- config, server, colonies, users ---------------------------------------------------------------
def test_config_and_server(cli: Cli) -> None:
    config = cli.ok("config").out
    assert f"127.0.0.1:{cli.server.port}" in config and "Current configuration" in config
    status = cli.json("server", "status")
    assert status["backends"][0]["port"] == cli.server.port
    assert "Server status" in cli.ok("server", "status").out
    stats = cli.json("server", "stats")
    assert stats["colonies"] >= 1
    assert "Successful processes" in cli.ok("server", "stats").out
    assert "Server is alive" in cli.ok("server", "alive").err
    assert "MsgType=getcoloniesmsg" in cli.ok("-v", "colony", "ls").err
    refused = cli("server", "stats", env={"COLONIES_SERVER_PRVKEY": "ab" * 32})
    assert refused.rc == 1 and refused.err.startswith("Error: ") and "not server owner" in refused.err


def test_server_chid_and_back(cli: Cli) -> None:
    prv, new_id = cli.keypair()
    old_id = cli.json("key", "id", "--prvkey", cli.env["COLONIES_SERVER_PRVKEY"])["id"]
    assert "Changed server Id" in cli.ok("server", "chid", "--serverid", new_id).err
    assert cli("colony", "ls").rc == 1  # the old key is no longer the server owner
    cli.ok("server", "chid", "--serverid", old_id, "--serverprvkey", prv)
    cli.ok("colony", "ls")


def test_colony_commands(cli: Cli) -> None:
    table = cli.ok("colony", "ls").out
    assert "NAME" in table and "COLONYID" in table and COLONY_ID in table
    prv, cid = cli.keypair()
    name = uniq("colony")
    added = cli.ok("colony", "add", "--name", name, "--colonyid", cid)
    assert f"ColonyID={cid}" in added.err and f"ColonyName={name}" in added.err
    assert {"name": name, "colonyid": cid} in cli.json("colony", "ls")
    assert cli.json("colony", "get")["colonyid"] == COLONY_ID
    stats = cli.ok("colony", "stats", "--name", "dev").out
    for row in ("Colony", "Executors", "Waiting processes", "Running processes", "Successful processes",
                "Failed processes", "Waiting workflows", "Running workflows", "Successful workflows",
                "Failed workflows"):
        assert re.search(rf"\| {row} +\|", stats), row
    assert cli.json("colony", "stats")["executors"] >= 2
    _, cid2 = cli.keypair()
    chid = cli.ok("colony", "chid", "--name", name, "--colonyid", cid2, "--colonyprvkey", prv)
    assert f"ColonyId={cid2}" in chid.err
    assert {"name": name, "colonyid": cid2} in cli.json("colony", "ls")
    cli.ok("colony", "remove", "--name", name)
    assert name not in cli.ok("colony", "ls").out


def test_user_commands(cli: Cli) -> None:
    prv, uid = cli.keypair()
    name = uniq("johan")
    added = cli.ok("user", "add", "--name", name, "--email", "johan@example.org", "--phone", "+467011122233",
                   "--userid", uid)
    assert "User added" in added.err and f"UserId={uid}" in added.err and f"Username={name}" in added.err
    listing = cli.ok("user", "ls").out
    assert "USERNAME" in listing and name in listing and "johan@example.org" in listing
    shown = cli.ok("user", "get", "--name", name).out
    assert re.search(rf"\| UserId +\| {uid} \|", shown)
    assert cli.json("user", "get", "--name", name)["phone"] == "+467011122233"
    _, uid2 = cli.keypair()
    assert f"UserId={uid2}" in cli.ok("user", "chid", "--userid", uid2, "--prvkey", prv).err
    assert cli.json("user", "get", "--name", name)["userid"] == uid2
    assert "User removed" in cli.ok("user", "remove", "--name", name).err
    assert name not in cli.ok("user", "ls").out
    assert cli("user", "add", "--name", uniq("u"), "--userid", uid, env={"COLONIES_COLONY_PRVKEY": None}).err \
        .startswith("Error: no colony private key: set COLONIES_COLONY_PRVKEY or use --colonyprvkey")


# --- executors and functions -----------------------------------------------------------------------
def test_executor_commands(cli: Cli) -> None:
    prv, eid = cli.keypair()
    name = uniq("ml-executor")
    added = cli.ok("executor", "add", "--spec", "examples/executors/executor.json", "--executorid", eid,
                   "--name", name, "--approve")
    assert f"ExecutorID={eid}" in added.err and "ExecutorType=ml" in added.err and "Executor approved" in added.err
    table = cli.ok("executor", "ls").out
    assert re.search(rf"\| {name} +\| ml +\| ICE Datacenter +\|", table), table
    got = cli.json("executor", "get", "--name", name)
    assert got["state"] == 1 and got["executorid"] == eid
    assert got["capabilities"]["hardware"][0]["model"] == "AMD Ryzen 9 5950X 16-Core Processor"
    shown = cli.ok("executor", "get", "--name", name).out
    for row in ("State", "Approved", "Location", "ICE Datacenter", "Hardware", "nvidia_3080ti", "Software",
                "colonyos/ml:latest"):
        assert row in shown
    assert "Executor rejected" in cli.ok("executor", "reject", "--name", name).err
    assert cli.json("executor", "get", "--name", name)["state"] == 2
    cli.ok("executor", "approve", "--name", name)
    _, eid2 = cli.keypair()
    assert f"ExecutorId={eid2}" in cli.ok("executor", "chid", "--executorid", eid2, "--prvkey", prv).err
    assert cli.json("executor", "get", "--name", name)["executorid"] == eid2
    assert "Executor removed" in cli.ok("executor", "remove", "--name", name).err
    assert name not in cli.ok("executor", "ls").out
    assert name in cli.ok("executor", "ls", "--all", "--full").out
    # without --spec, name and type are required
    missing = cli("executor", "add", "--executorid", eid)
    assert missing.rc == 1 and "executorname" in missing.err
    plain_name = uniq("my_name")
    cli.ok("executor", "add", "--executorid", cli.keypair()[1], "--name", plain_name, "--type", "my_type")
    assert cli.json("executor", "get", "--name", plain_name)["state"] == 0  # pending without --approve


def test_function_submit_wait_and_pss(cli: Cli) -> None:
    result = cli.ok("function", "submit", "--spec", "examples/functions/echo.json", "--wait")
    pid = field(result.err, "ProcessId")
    assert re.search(r"INFO\[\d{4}\] Process submitted\s+ProcessId=", result.err)
    assert "Process finished successfully" in result.err
    assert pid in {p["processid"] for p in cli.json("process", "pss", "--count", "100")}
    assert cli.ok("process", "get", "-p", pid, "--out").out.split() == ["hello", "world"]
    got = cli.json("process", "get", "-p", pid)
    assert got["state"] == 2 and got["spec"]["maxexectime"] == 60


def test_function_exec_out_follow_and_failure(cli: Cli) -> None:
    out = cli.ok("function", "exec", "--func", "fibonacci", "--args", "10", "--targettype", "cli", "--out")
    assert out.out.strip() == "55"
    follow = cli.ok("function", "exec", "--func", "helloworld", "--targettype", "cli", "--follow")
    assert "Hello from the colonies-py sample executor" in follow.out
    assert "Printing logs from process" in follow.err and "Process finished successfully" in follow.err
    failed = cli("function", "exec", "--func", "no-such-function", "--targettype", "cli", "--wait")
    assert failed.rc == 1 and "Process failed" in failed.err and "Unknown function" in failed.err
    kwargs = cli.json("function", "exec", "--func", "echo", "--args", "a", "b", "--kwargs", "k=v", "x:y",
                      "--targettype", "cli", "--label", "mylabel", "--maxexectime", "30", "--wait")
    assert kwargs["spec"]["args"] == ["a", "b"] and kwargs["spec"]["kwargs"] == {"k": "v", "x": "y"}
    assert kwargs["spec"]["label"] == "mylabel" and kwargs["spec"]["maxexectime"] == 30
    labelled = cli.json("process", "pss", "--label", "mylabel")
    assert [p["spec"]["label"] for p in labelled] and {p["spec"]["label"] for p in labelled} == {"mylabel"}


def test_function_register_ls_remove(cli: Cli) -> None:
    name, etype, prv, _ = new_executor(cli)
    result = cli.ok("function", "register", "--name", name, "--func", "helloworld", "--prvkey", prv)
    fid = field(result.err, "FunctionId")
    table = cli.ok("function", "ls", "--executorname", name).out
    assert "Function: helloworld" in table and "Call counter" in table and etype in table
    assert [f["functionid"] for f in cli.json("function", "ls", "--executorname", name)] == [fid]
    assert "Function removed" in cli.ok("function", "remove", "--functionid", fid, "--prvkey", prv).err
    assert cli.json("function", "ls", "--executorname", name) == []


# --- processes, logs, attributes ---------------------------------------------------------------------
def test_process_lifecycle_by_hand(cli: Cli) -> None:
    name, etype, prv, eid = new_executor(cli)
    pid = submit(cli, etype)
    waiting = cli.ok("process", "psw", "-i", "--executortype", etype).out
    assert pid in waiting and "SUBMSSIONTIME" in waiting and "FUNCNAME" in waiting
    assert pid not in cli.ok("process", "psw", "--executortype", etype).out  # ids only with -i
    assigned = cli.ok("process", "assign", "--prvkey", prv, "--timeout", "5")
    assert f"ExecutorId={eid}" in assigned.err and f"ProcessId={pid}" in assigned.err
    assert pid in {p["processid"] for p in cli.json("process", "ps", "--executortype", etype)}
    assert "STARTTIME" in cli.ok("process", "ps", "--executortype", etype).out
    logged = cli.ok("log", "add", "-p", pid, "-m", "helloworld", "--prvkey", prv)
    assert "LogMsg=helloworld" in logged.err
    cli.ok("log", "add", "-p", pid, "-m", f"ERROR: failed {pid[:8]}", "--prvkey", prv)
    assert cli.ok("log", "get", "-p", pid).out.splitlines() == ["helloworld", f"ERROR: failed {pid[:8]}"]
    assert len(cli.json("log", "get", "-e", name)) == 2
    found = cli.ok("log", "search", "--text", f"failed {pid[:8]}")
    assert "Searching for logs" in found.err and re.search(rf"\| ProcessID +\| {pid} \|", found.out)
    printed = cli.ok("log", "search", "--text", f"failed {pid[:8]}", "--print", "--seconds", "10").out
    assert "=================== LOGS ====================" in printed and "helloworld" in printed
    attr = cli.ok("attribute", "add", "--key", "mykey", "--value", "myvalue", "-p", pid, "--prvkey", prv)
    aid = field(attr.err, "AttributeID")
    table = cli.ok("attribute", "get", "--attributeid", aid).out
    assert re.search(rf"\| {aid} \| {pid} \| mykey +\| myvalue \| Out +\|", table), table
    assert cli.json("attribute", "get", "--attributeid", aid)["value"] == "myvalue"
    shown = cli.ok("process", "get", "-p", pid).out
    for title in ("Process", "Function Specification", "Conditions", "Attributes", "myvalue", "Running"):
        assert title in shown
    closed = cli.ok("process", "close", "-p", pid, "--out", "Hej", "--prvkey", prv)
    assert "Process closed as Successful" in closed.err
    assert cli.ok("process", "get", "-p", pid, "--out").out == "Hej\n"
    # fail another one
    pid2 = submit(cli, etype)
    cli.ok("process", "assign", "--prvkey", prv, "--timeout", "5")
    cli.ok("process", "fail", "-p", pid2, "--errors", "boom", "--prvkey", prv)
    failed = cli.json("process", "get", "-p", pid2)
    assert failed["state"] == 3 and failed["errors"] == ["boom"]
    assert pid2 in cli.ok("process", "psf", "-i", "--executortype", etype).out
    # nothing left to assign
    none = cli("process", "assign", "--prvkey", prv, "--timeout", "1")
    assert none.rc == 1 and "No process available" in none.err
    # remove
    assert "Process removed" in cli.ok("process", "remove", "-p", pid2).err
    assert cli("process", "get", "-p", pid2).rc == 1


def test_log_follow_streams_until_the_process_ends(cli: Cli) -> None:
    _, etype, prv, _ = new_executor(cli)
    pid = submit(cli, etype)
    follower = subprocess.Popen([sys.executable, "colonies.py", "log", "get", "-p", pid, "--follow"], cwd=REPO,
                                env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        cli.ok("process", "assign", "--prvkey", prv, "--timeout", "5")
        cli.ok("log", "add", "-p", pid, "-m", "line one", "--prvkey", prv)
        time.sleep(1.5)
        assert follower.poll() is None  # still following
        cli.ok("log", "add", "-p", pid, "-m", "line two", "--prvkey", prv)
        cli.ok("process", "close", "-p", pid, "--prvkey", prv)
        out, err = follower.communicate(timeout=20)
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.communicate()
    assert follower.returncode == 0, err
    assert out.splitlines() == ["line one", "line two"]


def test_process_cancel_pause_resume_status(cli: Cli) -> None:
    _, etype, _, _ = new_executor(cli)
    pid = submit(cli, etype)
    assert "Process cancelled" in cli.ok("process", "cancel", "-p", pid).err
    assert pid in cli.ok("process", "psc", "-i", "--executortype", etype).out
    try:
        cli.ok("process", "pause")
        assert cli.json("process", "status")["ispaused"] is True
        assert "Paused" in cli.ok("process", "status").out
    finally:
        cli.ok("process", "resume")
    assert cli.json("process", "status")["ispaused"] is False


def test_process_removeall_asks_first(cli: Cli) -> None:
    _, etype, _, _ = new_executor(cli)
    pid = submit(cli, etype)
    # the answer may be piped, as scripts written for the Go CLI do; anything but YES, or end of
    # input, refuses with a clear message and removes nothing
    for answer, why in (("", "no answer (end of input)"), ("no\n", "the answer was 'no', not YES"),
                        ("yes\n", "the answer was 'yes', not YES")):
        refused = cli("process", "removeall", "--waiting", input=answer)
        assert refused.rc == 1 and "(YES,no)" in refused.out, refused
        assert f"Error: aborted, nothing changed: {why}" in refused.err and "--yes" in refused.err, refused
        assert pid in cli.ok("process", "psw", "-i", "--executortype", etype).out
    refused = cli("process", "removeall", "--waiting")  # stdin is /dev/null: end of input
    assert refused.rc == 1 and "no answer" in refused.err
    # on a terminal it asks (YES,no); anything but YES aborts
    answer = _with_tty(["process", "removeall", "--waiting"], "no\n", cli.env)
    assert "(YES,no)" in answer and "aborted" in answer
    assert pid in cli.ok("process", "psw", "-i", "--executortype", etype).out
    answer = _with_tty(["process", "removeall", "--waiting"], "YES\n", cli.env)
    assert "Removing all waiting processes in Colony" in answer
    assert pid not in cli.ok("process", "psw", "-i", "--executortype", etype, "--count", "100").out
    pid2 = submit(cli, etype)
    piped = cli("process", "removeall", "--waiting", input="YES\n")  # echo YES | colonies process removeall
    assert piped.rc == 0 and "Removing all waiting processes in Colony" in piped.err, piped
    assert pid2 not in cli.ok("process", "psw", "-i", "--count", "100").out
    pid3 = submit(cli, etype)
    cli.ok("process", "removeall", "--yes")
    assert pid3 not in cli.ok("process", "psw", "-i", "--count", "100").out


def test_workflow_removeall_reads_a_piped_answer(cli: Cli) -> None:
    spec = REPO / "examples" / "workflows" / "sum_wf.json"  # its executor type is not served: it waits
    wid = field(cli.ok("workflow", "submit", "--spec", str(spec)).err, "WorkflowID")
    refused = cli("workflow", "removeall", "--waiting", input="NO\n")
    assert refused.rc == 1 and "aborted, nothing changed" in refused.err
    assert wid in cli.ok("workflow", "psw").out
    cli.ok("workflow", "removeall", "--waiting", input="YES\n")
    assert wid not in cli.ok("workflow", "psw", "--count", "100").out


def test_process_lists_show_the_label_and_filter_by_function(cli: Cli) -> None:
    _, etype, _, _ = new_executor(cli)
    label = uniq("lbl")
    cli.ok("function", "exec", "--func", "helloworld", "--targettype", etype, "--label", label)
    cli.ok("function", "exec", "--func", "fibonacci", "--args", "10", "--targettype", etype, "--label", label)
    table = cli.ok("process", "psw", "--label", label).out
    header = next(line for line in table.splitlines() if "FUNCNAME" in line)
    assert [c.strip() for c in re.split(r"[│|]", header) if c.strip()] == [
        "FUNCNAME", "ARGS", "KWARGS", "SUBMSSIONTIME", "EXECUTORTYPE", "INITIATOR", "LABEL"], header
    assert table.count(label) == 2
    only = cli.ok("process", "psw", "--label", label, "--func", "fibonacci").out
    assert "fibonacci" in only and "helloworld" not in only
    assert [p["spec"]["funcname"] for p in cli.json("process", "psw", "--func", "helloworld", "--label", label)] \
        == ["helloworld"]
    for listing in ("ps", "pss", "psf", "psc"):
        result = cli.ok("process", listing, "--count", "100")
        assert "LABEL" in result.out or "processes found" in result.err, result


def _with_tty(argv: list[str], answer: str, env: dict[str, str]) -> str:
    """Run the CLI with stdin/stdout on a pseudo-terminal, type `answer`, return all output."""
    pid, fd = pty.fork()
    if pid == 0:  # child
        os.chdir(REPO)
        os.execve(sys.executable, [sys.executable, "colonies.py", *argv], env)
    chunks: list[bytes] = []
    sent = False
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
        if not sent and b"(YES,no)" in b"".join(chunks):
            os.write(fd, answer.encode())
            sent = True
    os.close(fd)
    os.waitpid(pid, 0)
    return b"".join(chunks).decode(errors="replace")


# --- workflows, crons, generators ------------------------------------------------------------------
def test_workflow_commands(cli: Cli) -> None:
    done = cli.ok("workflow", "submit", "--spec", "examples/workflows/workflow.json", "--wait")
    wid = field(done.err, "WorkflowID")
    assert "Workflow finished successfully" in done.err
    assert wid in {g["processgraphid"] for g in cli.json("workflow", "pss")}
    assert "WORKFLOWID" in cli.ok("workflow", "pss").out
    shown = cli.ok("workflow", "get", "--workflowid", wid).out
    assert "Processes:" in shown and shown.count("NodeName") == 4 and "task_b task_c" in shown
    assert len(cli.json("workflow", "get", "--workflowid", wid)["processes"]) == 4
    # a workflow for an executor type nobody serves stays waiting: cancel, remove
    spec = REPO / "examples" / "workflows" / "sum_wf.json"
    waiting = field(cli.ok("workflow", "submit", "--spec", str(spec)).err, "WorkflowID")
    assert waiting in cli.ok("workflow", "psw").out
    assert "Workflow cancelled" in cli.ok("workflow", "cancel", "--workflowid", waiting).err
    assert waiting in {g["processgraphid"] for g in cli.json("workflow", "psc")}
    assert "Workflow removed" in cli.ok("workflow", "remove", "--workflowid", waiting).err
    assert cli("workflow", "get", "--workflowid", waiting).rc == 1
    empty = cli.ok("workflow", "ps")
    assert "No running workflows found" in empty.err or "WORKFLOWID" in empty.out
    cli.ok("workflow", "removeall", "--successful", "--yes")
    assert wid not in {g["processgraphid"] for g in cli.json("workflow", "pss")}


def test_cron_commands(cli: Cli) -> None:
    name = uniq("example_cron")
    added = cli.ok("cron", "add", "--name", name, "--cron", "0 0 0 1 1 *", "--spec", "examples/cron/cron_workflow.json")
    assert "Will not wait for previous processgraph to finish" in added.err
    cid = field(added.err, "CronID")
    assert cid in cli.ok("cron", "ls").out
    got = cli.json("cron", "get", "--cronid", cid)
    assert got["name"] == name and got["cronexpression"] == "0 0 0 1 1 *"
    assert [s["funcname"] for s in json.loads(got["workflowspec"])["functionspecs"]] == ["date", "cat"]
    shown = cli.ok("cron", "get", "--cronid", cid).out
    assert "Cron Expression" in shown and shown.count("Function Specification") == 2
    assert "Running cron" in cli.ok("cron", "run", "--cronid", cid).err
    assert cli.json("cron", "get", "--cronid", cid)["prevprocessgraphid"]
    assert "Removing cron" in cli.ok("cron", "remove", "--cronid", cid).err
    assert cid not in cli.ok("cron", "ls").out
    interval = cli.ok("cron", "add", "--name", uniq("random_cron"), "--interval", "3600", "--random", "10",
                      "--waitprevious", "--spec", "examples/cron/cron_workflow.json")
    assert "Will wait for previous processgraph to finish" in interval.err
    got = cli.json("cron", "get", "--cronid", field(interval.err, "CronID"))
    assert got["interval"] == 3600 and got["random"] is True and got["waitforprevprocessgraph"] is True
    cli.ok("cron", "remove", "--cronid", got["cronid"])


def test_generator_commands(cli: Cli) -> None:
    name = uniq("testgenerator")
    added = cli.ok("generator", "add", "--spec", "examples/generators/generator_workflow.json", "--name", name,
                   "--trigger", "2")
    gid = field(added.err, "GeneratorID")
    assert f"GeneratorName={name}" in added.err and "Trigger=2" in added.err and "Timeout=-1" in added.err
    assert gid in cli.ok("generator", "ls").out
    cli.ok("generator", "pack", "--generatorid", gid, "--arg", "hello1")
    assert cli.json("generator", "get", "--generatorid", gid)["queuesize"] == 1
    assert "QueueSize" in cli.ok("generator", "get", "--generatorid", gid).out
    before = {g["processgraphid"] for g in cli.json("workflow", "pss", "--count", "100")}
    cli.ok("generator", "pack", "--generatorid", gid, "--arg", "hello2")
    deadline = time.monotonic() + 20
    new: set[str] = set()
    while time.monotonic() < deadline and not new:
        new = {g["processgraphid"] for g in cli.json("workflow", "pss", "--count", "100")} - before
        time.sleep(0.3)
    assert new, "the generator did not start a workflow"
    graph = cli.json("workflow", "get", "--workflowid", new.pop())
    assert graph["processes"][0]["spec"]["args"] == ["hello1", "hello2"]
    assert "Removing generator" in cli.ok("generator", "remove", "--generatorid", gid).err
    assert gid not in cli.ok("generator", "ls").out
    assert cli("generator", "add", "--spec", "examples/generators/generator_workflow.json", "--name", "x",
               "--trigger", "0").rc == 1


def test_initiator_filter(cli: Cli) -> None:
    _, etype, _, _ = new_executor(cli)
    pid = submit(cli, etype)
    by_user = cli.json("process", "psw", "--initiator", "myuser", "--count", "100")
    assert pid in {p["processid"] for p in by_user}
    assert all(p["initiatorid"] == USER_ID for p in by_user)
    cli.ok("process", "remove", "-p", pid)
