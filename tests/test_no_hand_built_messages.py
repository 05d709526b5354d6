"""Every request the client side sends is an rpc Struct (issue 16, item 2): no module outside
`colonies_pkg/rpc/` builds a `{"msgtype": ...}` dict (or `dict(msgtype=...)`) by hand."""
from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "colonies_pkg"


def builds_msgtype(node: ast.AST) -> bool:
    """A dict display with a "msgtype" key, or a dict(msgtype=...) call."""
    if isinstance(node, ast.Dict):
        return any(isinstance(k, ast.Constant) and k.value == "msgtype" for k in node.keys)
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict"
            and any(kw.arg == "msgtype" for kw in node.keywords))


def hand_built(tree: ast.AST) -> list[int]:
    return [node.lineno for node in ast.walk(tree) if builds_msgtype(node)]


def test_the_walk_finds_a_hand_built_message() -> None:
    found = hand_built(ast.parse('x = 1\nmsg = {"processid": p, "msgtype": "getprocessmsg"}\n'
                                 'other = dict(msgtype="getcolonymsg")\n'))
    assert found == [2, 3]


def test_no_module_outside_rpc_builds_a_msgtype_dict() -> None:
    offenders = []
    for path in sorted(PKG.rglob("*.py")):
        if path.relative_to(PKG).parts[0] == "rpc":
            continue
        offenders += [f"{path.relative_to(PKG.parent)}:{line}" for line in hand_built(ast.parse(path.read_text()))]
    assert offenders == [], "build the rpc Struct (colonies_pkg.rpc) and send it with Client.rpc instead"
