"""The `colonies` CLI without a server: the command tree of the ColonyOS CLI guide, --help with
env vars, tables, spec files, completion scripts and error handling."""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from colonies_pkg.cli import build_parser, main
from colonies_pkg.cli import completion as completion_mod
from colonies_pkg.cli.common import CliError
from colonies_pkg.cli.output import go_duration, parse_time
from colonies_pkg.cli.specs import executor, funcspec, workflow
from colonies_pkg.cli.table import ASCII, ROUNDED, render

from .conftest import REPO, base_env

# Every command of the CLI guide (seeds/000) and of the issue, except `fs` (CFS comes later).
GUIDE: dict[str, list[str]] = {
    "key": ["generate", "id"],
    "colony": ["add", "remove", "ls", "get", "stats", "chid"],
    "user": ["add", "ls", "get", "remove", "chid"],
    "executor": ["add", "approve", "reject", "remove", "ls", "get", "chid"],
    "function": ["submit", "exec", "register", "ls", "remove"],
    "process": ["ps", "psw", "pss", "psf", "psc", "get", "assign", "close", "fail", "remove", "removeall", "cancel",
                "pause", "resume", "status"],
    "log": ["add", "get", "search"],
    "attribute": ["add", "get"],
    "workflow": ["submit", "ps", "psw", "pss", "psf", "psc", "get", "remove", "removeall", "cancel"],
    "cron": ["add", "ls", "get", "run", "remove"],
    "generator": ["add", "pack", "ls", "get", "remove"],
    "server": ["start", "status", "stats", "chid", "alive"],
}
TOP_LEVEL = ["config", "dev", "completion", "version", "help"]
FLAGS: dict[str, list[str]] = {
    "colony add": ["--name", "--colonyid"],
    "colony chid": ["--colonyid"],
    "user add": ["--name", "--email", "--phone", "--userid"],
    "user chid": ["--userid"],
    "executor add": ["--spec", "--executorid", "--name", "--type", "--approve"],
    "executor chid": ["--executorid"],
    "function submit": ["--spec", "--wait", "--follow", "--out", "--label"],
    "function exec": ["--func", "--args", "--kwargs", "--targettype", "--label", "--wait", "--follow", "--out"],
    "function register": ["--name", "--func", "--prvkey"],
    "process ps": ["-i", "--ids", "--count", "--label", "--initiator", "--executortype", "--json", "--func"],
    "process get": ["-p", "--json", "--out"],
    "process assign": ["--prvkey", "--timeout"],
    "process close": ["-p", "--out"],
    "process fail": ["-p", "--errors"],
    "process removeall": ["--waiting", "--successful", "--failed", "--cancelled", "--yes"],
    "log add": ["-p", "-m", "--prvkey"],
    "log get": ["-p", "--follow"],
    "log search": ["--text", "--days", "--count", "--print", "--seconds"],
    "attribute add": ["--key", "--value", "-p"],
    "attribute get": ["--attributeid"],
    "workflow submit": ["--spec", "--wait"],
    "workflow get": ["--workflowid", "--json"],
    "workflow removeall": ["--waiting", "--successful", "--failed", "--cancelled"],
    "cron add": ["--name", "--cron", "--interval", "--random", "--waitprevious", "--spec"],
    "cron get": ["--cronid"],
    "generator add": ["--spec", "--name", "--trigger", "--timeout"],
    "generator pack": ["--arg", "--generatorid"],
    "server chid": ["--serverid"],
    "key id": ["--prvkey"],
}
CONNECTION_ENV = ["COLONIES_SERVER_HOST", "COLONIES_SERVER_PORT", "COLONIES_TLS", "COLONIES_COLONY_NAME",
                  "COLONIES_PRVKEY"]


def run(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "colonies.py", *argv], cwd=REPO, env=base_env() | (env or {}),
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def leaf(path: str) -> argparse.ArgumentParser:
    parser = build_parser()
    for word in path.split():
        parser = subparsers(parser)[word]
    return parser


def leaves(parser: argparse.ArgumentParser, path: str = "") -> list[tuple[str, argparse.ArgumentParser]]:
    subs = subparsers(parser)
    if not subs:
        return [(path, parser)]
    out: list[tuple[str, argparse.ArgumentParser]] = []
    seen: set[int] = set()
    for name, sub in subs.items():
        if id(sub) not in seen:  # skip aliases
            seen.add(id(sub))
            out += leaves(sub, f"{path} {name}".strip())
    return out


# --- the command tree ----------------------------------------------------------------------------
def test_top_level_help_lists_every_group() -> None:
    result = run("--help")
    assert result.returncode == 0
    for name in [*GUIDE, *TOP_LEVEL]:
        assert re.search(rf"^\s+{name}\b", result.stdout, re.M), f"`colonies {name}` missing from --help"


def test_bare_colonies_prints_the_help_and_exits_0() -> None:
    bare, helped = run(), run("--help")
    assert bare.returncode == 0 and bare.stderr == ""
    assert bare.stdout == helped.stdout and "process" in bare.stdout
    assert run("help").stdout == helped.stdout


@pytest.mark.parametrize("group", sorted([*GUIDE, "fs", "fs label", "fs snapshot"]))
def test_bare_group_prints_its_help_and_exits_0(group: str) -> None:
    bare, helped = run(*group.split()), run(*group.split(), "--help")
    assert bare.returncode == 0 and bare.stderr == "", bare.stderr
    assert bare.stdout == helped.stdout and "SUBCOMMAND" in bare.stdout
    assert run("help", *group.split()).stdout == helped.stdout  # `colonies help process`, as in Go


@pytest.mark.parametrize("group", sorted(GUIDE))
def test_group_help_lists_every_guide_command(group: str) -> None:
    result = run(group, "--help")
    assert result.returncode == 0, result.stderr
    for sub in GUIDE[group]:
        assert re.search(rf"^\s+{sub}\b", result.stdout, re.M), f"`colonies {group} {sub}` missing from --help"


@pytest.mark.parametrize("path", sorted(FLAGS))
def test_guide_flags_exist(path: str) -> None:
    options = leaf(path)._option_string_actions
    for flag in FLAGS[path]:
        assert flag in options, f"`colonies {path}` has no {flag}"


def _guide_commands() -> list[tuple[str, list[str]]]:
    """`colonies …` command lines of the CLI guide and tutorials (when shared/seeds is around)."""
    seeds = [p for base in (REPO.parent / "shared" / "seeds", Path("/work/shared/seeds")) if base.is_dir()
             for p in sorted(base.glob("00[0134]_*.txt"))]
    found = []
    for path in seeds[:4]:
        text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
        for line in text.splitlines():
            line = line.strip()
            if not re.match(r"^colonies [a-z]", line) or "[command]" in line or "\u2013" in line:
                continue  # usage lines and the guide's "colonies process \u2013help" prose
            words = re.findall(r'"[^"]*"|\S+', line.split(";")[0].split(">")[0])[1:]
            if words and words[0] not in ("fs", "worklflow"):
                found.append((line, words))
    return found


def test_every_command_line_of_the_guide_parses() -> None:
    commands = _guide_commands()
    if not commands:
        pytest.skip("shared/seeds (the CLI guide) is not next to the repository")
    parser = build_parser()
    for line, words in commands:
        node, rest = parser, list(words)
        while rest and subparsers(node) and rest[0] in subparsers(node):
            node = subparsers(node)[rest.pop(0)]
        assert not subparsers(node) or (rest and rest[0] in ("bash", "zsh", "fish")), f"unknown command: {line}"
        for word in rest:
            flag = word.split("=")[0]
            if flag.startswith("-") and not re.match(r"^-\d", flag):
                assert flag in node._option_string_actions, f"{line}: unknown flag {flag}"


def test_every_leaf_has_help_and_env_vars() -> None:
    for path, parser in leaves(build_parser()):
        assert parser.description, f"`colonies {path}` has no description"
        text = " ".join(parser.format_help().split())
        if "--colonyname" in parser._option_string_actions:  # a client command
            for env in CONNECTION_ENV:
                assert env in text, f"`colonies {path} --help` does not mention {env}"
        for action in parser._actions:
            assert action.help, f"`colonies {path}` {action.option_strings or action.dest} has no help"


def test_every_get_and_list_command_has_json() -> None:
    listing = {"get", "ls", "ps", "psw", "pss", "psf", "psc", "stats", "status"}
    downloads = {"fs get"}  # "get" here fetches a file's contents, not a record to print
    checked = [path for path, parser in leaves(build_parser())
               if (path.split()[-1] in listing or path == "config") and path not in downloads]
    assert len(checked) > 25
    for path in checked:
        assert "--json" in leaf(path)._option_string_actions, f"`colonies {path}` has no --json"


def test_go_style_global_flags() -> None:
    env = {"COLONIES_SERVER_HOST": "h", "COLONIES_TLS": "true"}
    assert json.loads(run("--insecure", "config", "--json", env=env).stdout)["TLS"] == "false"
    assert json.loads(run("config", "--json", env=env).stdout)["TLS"] == "true"


def test_help_never_shows_env_values() -> None:
    secret = "ab" * 32
    result = run("process", "assign", "--help", env={"COLONIES_PRVKEY": secret, "COLONIES_SERVER_HOST": "h.example"})
    assert result.returncode == 0
    assert "COLONIES_PRVKEY" in result.stdout and "COLONIES_SERVER_HOST" in result.stdout
    assert secret not in result.stdout and "h.example" not in result.stdout


def test_version_and_key() -> None:
    assert run("version").stdout.startswith("colonies-py ")
    generated = run("key", "generate")
    assert generated.returncode == 0
    m = re.search(r"INFO\[\d{4}\] Generated new private key\s+Id=([0-9a-f]{64}) PrvKey=([0-9a-f]{64})",
                  generated.stderr)
    assert m, generated.stderr
    ident = run("key", "id", "--prvkey", m.group(2))
    assert f"Id={m.group(1)}" in ident.stderr
    bad = run("key", "id", "--prvkey", "zz")
    assert bad.returncode == 1 and bad.stderr.startswith("Error: ")


# --- configuration and errors --------------------------------------------------------------------
def test_config_from_env_and_flags() -> None:
    env = {"COLONIES_SERVER_HOST": "example.org", "COLONIES_SERVER_PORT": "4443", "COLONIES_COLONY_NAME": "c1",
           "COLONIES_PRVKEY": "ab" * 32}
    shown = json.loads(run("config", "--json", env=env).stdout)
    assert shown["ColoniesServer"] == "example.org:4443"
    assert shown["TLS"] == "false"  # plain HTTP unless asked for
    assert shown["Colony"] == "c1" and shown["PrvKey"] == "set" and shown["ServerPrvKey"] == "not set"
    assert "ab" * 32 not in json.dumps(shown)
    assert json.loads(run("config", "--json", env=env | {"COLONIES_TLS": "true"}).stdout)["TLS"] == "true"
    assert json.loads(run("config", "--json", env=env | {"COLONIES_SERVER_TLS": "true"}).stdout)["TLS"] == "true"
    flags = json.loads(run("config", "--json", "--host", "h2", "--port", "1", "--tls", "--insecure", env=env).stdout)
    assert flags["ColoniesServer"] == "h2:1" and flags["TLS"] == "false"
    http_port = json.loads(run("config", "--json", env=env | {"COLONIES_SERVER_HTTP_PORT": "7"}).stdout)
    assert http_port["ColoniesServer"] == "example.org:7"


def test_errors_are_one_line_and_exit_1() -> None:
    env = {"COLONIES_SERVER_HOST": "127.0.0.1", "COLONIES_SERVER_PORT": "1", "COLONIES_COLONY_NAME": "dev",
           "COLONIES_PRVKEY": "ab" * 32}
    down = run("process", "ps", env=env)
    assert down.returncode == 1
    assert down.stderr.splitlines()[0].startswith("Error: cannot reach Colonies server at 127.0.0.1:1")
    assert run("process", "ps", env=env | {"COLONIES_PRVKEY": ""}).stderr.strip() == \
        "Error: no private key: set COLONIES_PRVKEY or use --prvkey"
    assert run("process", "ps", env=env | {"COLONIES_SERVER_PORT": "x"}).stderr.startswith(
        "Error: invalid value 'x' in COLONIES_SERVER_PORT")
    assert run("process", "get").returncode == 2  # argparse: -p is required


def test_main_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0
    assert "colonies-py" in capsys.readouterr().out


# --- tables --------------------------------------------------------------------------------------
def test_rounded_table_like_the_guide() -> None:
    rows = [("ColoniesServer", "localhost:50080"), ("TLS", "false"), ("Colony", "dev")]
    assert render(rows, title="Current configuration", style=ROUNDED) == "\n".join([
        "╭──────────────────────────────────╮",
        "│ Current configuration            │",
        "├────────────────┬─────────────────┤",
        "│ ColoniesServer │ localhost:50080 │",
        "│ TLS            │ false           │",
        "│ Colony         │ dev             │",
        "╰────────────────┴─────────────────╯",
    ])
    assert render([("ml-executor", "ml", "ICE Datacenter")], headers=["NAME", "TYPE", "LOCATION"],
                  style=ROUNDED) == "\n".join([
        "╭─────────────┬──────┬────────────────╮",
        "│ NAME        │ TYPE │ LOCATION       │",
        "├─────────────┼──────┼────────────────┤",
        "│ ml-executor │ ml   │ ICE Datacenter │",
        "╰─────────────┴──────┴────────────────╯",
    ])
    assert render([("a", "b")], style=ASCII) == "+---+---+\n| a | b |\n+---+---+"
    # a title wider than the columns widens the last one instead of wrapping
    wide = render([("Func", "echo")], title="Function Specification", style=ROUNDED).splitlines()
    assert len({len(line) for line in wide}) == 1


def test_ascii_borders_when_not_a_terminal_or_asked() -> None:
    env = {"COLONIES_SERVER_HOST": "h", "COLONIES_COLONY_NAME": "dev"}
    assert run("config", env=env).stdout.startswith("+---")  # stdout is a pipe
    assert run("config", env=env | {"COLONIES_CLI_ASCII": "true"}).stdout.startswith("+---")
    assert run("config", env=env | {"COLONIES_CLI_ASCII": "false"}).stdout.startswith("╭───")


def test_times_and_durations() -> None:
    assert parse_time("0001-01-01T00:00:00Z") is None
    t = parse_time("2025-01-01T12:00:00.123456789Z")
    assert t is not None and t.microsecond == 123456
    assert parse_time("2024-01-02T18:57:31.124505+01:00") is not None
    assert go_duration(134.682235) == "2m14.682235s"
    assert go_duration(53.002228) == "53.002228s"
    assert go_duration(3723) == "1h2m3s"
    assert go_duration(0.0125) == "12.5ms"
    assert go_duration(0) == "0s"


# --- spec files ----------------------------------------------------------------------------------
def test_function_spec_defaults_like_the_go_loader() -> None:
    spec = funcspec({"funcname": "helloworld", "conditions": {"executortype": "t"}}, "dev")
    assert (spec["maxwaittime"], spec["maxexectime"], spec["maxretries"]) == (-1, -1, -1)
    assert spec["conditions"]["colonyname"] == "dev" and spec["conditions"]["dependencies"] == []
    spec = funcspec({"funcname": "f", "maxexectime": 0, "maxretries": 0, "maxwaittime": 5,
                     "conditions": {"colonyname": "other", "executortype": "t"}}, "dev")
    assert (spec["maxwaittime"], spec["maxexectime"], spec["maxretries"]) == (5, -1, 0)
    assert spec["conditions"]["colonyname"] == "other"
    with pytest.raises(CliError):
        funcspec({"conditions": {"executortype": "t"}}, "dev")
    with pytest.raises(CliError):
        funcspec({"funcname": "f", "maxexectime": "10"}, "dev")


def test_workflow_file_is_a_bare_array() -> None:
    wf = workflow([{"nodename": "a", "funcname": "f", "conditions": {"executortype": "t"}}], "dev")
    assert wf["colonyname"] == "dev"
    assert wf["functionspecs"][0]["conditions"]["colonyname"] == "dev"
    assert workflow({"colonyname": "c2", "functionspecs": wf["functionspecs"]}, "dev")["colonyname"] == "c2"
    with pytest.raises(CliError):
        workflow([], "dev")


def test_executor_spec_old_forms() -> None:
    e = executor(json.loads((REPO / "examples/executors/executor.json").read_text()))
    assert e["locationname"] == "ICE Datacenter" and "location" not in e
    assert e["capabilities"]["hardware"][0]["gpu"]["name"] == "nvidia_3080ti"
    assert e["capabilities"]["software"][0]["type"] == "k8s"


def test_example_files_are_valid_json() -> None:
    files = sorted((REPO / "examples").rglob("*.json"))
    assert len(files) >= 6
    for path in files:
        json.loads(path.read_text())


# --- completion ----------------------------------------------------------------------------------
def test_completion_knows_every_command_and_flag() -> None:
    tree = completion_mod.walk(build_parser())
    for group, subs in GUIDE.items():
        assert group in tree[""].words
        assert set(subs) <= set(tree[group].words), group
    for path, flags in FLAGS.items():
        assert set(flags) <= set(tree[path].options), path
    assert "--count" in tree["process ps"].value_options and "--json" not in tree["process ps"].value_options
    for shell in ("bash", "zsh", "fish"):
        result = run("completion", shell)
        assert result.returncode == 0 and "removeall" in result.stdout and "--waitprevious" in result.stdout


def test_bash_completion_works() -> None:
    script = run("completion", "bash").stdout
    probe = script + "\n" + r'''
t() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); COMPREPLY=(); _colonies; echo "${COMPREPLY[*]}"; }
t colonies pro
t colonies process ""
t colonies process ps --cou
t colonies process ps --count 5 --lab
t colonies workflow ""
'''
    out = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "process"
    assert lines[1].split()[:5] == ["ps", "psw", "pss", "psf", "psc"] and "removeall" in lines[1]
    assert lines[2] == "--count" and lines[3] == "--label"
    assert "submit" in lines[4].split()


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts_parse(shell: str) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    script = run("completion", shell).stdout
    out = subprocess.run([shell, "-n"], input=script, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr


def test_fish_completion_works() -> None:
    if shutil.which("fish") is None:
        pytest.skip("fish is not installed")
    script = run("completion", "fish").stdout
    out = subprocess.run(["fish", "-c", script + '\ncomplete -C"colonies process ps --cou"'],
                         capture_output=True, text=True, timeout=30)
    assert out.stdout.startswith("--count\t"), out.stdout + out.stderr
