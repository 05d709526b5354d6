"""The CLI and the executors read replies only through reply Structs (issue 16, item 2): in
`colonies_pkg/cli/` and `colonies_pkg/executor/`, a `.rpc(...)` call (or the executor's retrying
`.call(...)`) without `reply=` may only be a statement whose result is dropped (a remove, a close,
a pause, a log line); a reply that is used is decoded with `reply=` or `rpc_json(msg, key, Struct)`,
and nothing parses a reply or push by hand (`json.loads` of a payload, `b64decode`)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "colonies_pkg"
CLI = PACKAGE / "cli"
EXECUTOR = PACKAGE / "executor"
SENDERS = {CLI: ("rpc",), EXECUTOR: ("rpc", "call")}  # `Runner.call`: `rpc` retried while unreachable


def untyped_reads(tree: ast.AST, senders: tuple[str, ...] = ("rpc",)) -> list[int]:
    """Lines of `.rpc(...)` calls (or other `senders`) without `reply=` whose result is used."""
    dropped = {id(stmt.value) for stmt in ast.walk(tree) if isinstance(stmt, ast.Expr)}
    return [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in senders
            and not any(kw.arg == "reply" for kw in node.keywords) and id(node) not in dropped]


def hand_decoded(tree: ast.AST) -> list[int]:
    """Lines calling `b64decode` (a reply envelope's payload, opened by hand)."""
    return [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "b64decode"]


def test_the_walk_finds_an_untyped_read() -> None:
    tree = ast.parse('s.rpc(RemoveProcessMsg(processid=p), key)\n'
                     'p = s.rpc(GetProcessMsg(processid=p), key)\n'
                     'q = s.rpc(GetProcessMsg(processid=p), key, reply=ProcessReply)\n'
                     'print_json(s.rpc(GetServerInfoMsg(), None))\n'
                     'data = json.loads(base64.b64decode(frame["payload"]))\n')
    assert untyped_reads(tree) == [2, 4]
    assert hand_decoded(tree) == [5]
    runner = ast.parse('self.call(client, CloseFailedMsg(processid=p), what="close")\n'
                       'fs = self.call(client, GetFunctionsMsg(colonyname=c), stop=stop)\n'
                       'fs = self.call(client, GetFunctionsMsg(colonyname=c), reply=list[Function] | None)\n')
    assert untyped_reads(runner) == [] and untyped_reads(runner, SENDERS[EXECUTOR]) == [2]


@pytest.mark.parametrize("package", [CLI, EXECUTOR], ids=lambda p: p.name)
def test_every_reply_used_is_read_through_a_struct(package: Path) -> None:
    offenders = []
    for path in sorted(package.glob("*.py")):
        tree = ast.parse(path.read_text())
        offenders += [f"{path.name}:{line}" for line in untyped_reads(tree, SENDERS[package]) + hand_decoded(tree)]
    assert offenders == [], ("decode the reply into its Struct: client.rpc(msg, key, reply=Model) (Session.rpc in "
                             "the CLI), or rpc_json(msg, key, Model) to also print it as sent (--json)")
