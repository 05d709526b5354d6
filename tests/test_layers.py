"""Import-direction guard (STYLE.md principle 1): parse every module of colonies_pkg with `ast`
and fail when a lower layer imports a higher one, or a third-party library leaks out of the
one place it belongs. Imports inside functions count too: a lazy import is still a dependency.

    L0  errors, clock, ids, crypto, tls, __init__  L4  hub, loops, replicas
    L1  models/*, config, objectstore/*          L5  server/*, client, executor, cfs/*
    L2  rpc/*, storage/*                         L6  cli/*, __main__
    L3  domain/*

A new top-level module not in this table must say its layer in its docstring ("… (layer L1)");
that declaration is checked against the table wherever both exist.
"""
from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

PKG = "colonies_pkg"
ROOT = Path(__file__).resolve().parents[1] / PKG

LAYER_OF_HEAD = {
    "errors": 0, "clock": 0, "ids": 0, "crypto": 0, "tls": 0,
    "models": 1, "config": 1, "objectstore": 1,
    "rpc": 2, "storage": 2,
    "domain": 3,
    "hub": 4, "loops": 4, "replicas": 4,
    "server": 5, "client": 5, "executor": 5, "cfs": 5,
    "cli": 6, "__main__": 6,
}
# Third-party imports confined to one area: library -> predicate on the importing module name.
CONFINED = {
    "starlette": lambda mod: mod.startswith(f"{PKG}.server"),
    "sqlite3": lambda mod: mod.startswith(f"{PKG}.storage"),
    "aiosqlite": lambda mod: mod.startswith(f"{PKG}.storage"),
    "coincurve": lambda mod: mod == f"{PKG}.crypto",
    "psycopg": lambda mod: mod.startswith(f"{PKG}.storage"),
    "psycopg_pool": lambda mod: mod.startswith(f"{PKG}.storage"),
}
_DECLARED = re.compile(r"\blayer\s+L(\d)\b", re.IGNORECASE)


class Module:
    def __init__(self, path: Path) -> None:
        rel = path.relative_to(ROOT.parent).with_suffix("")
        parts = list(rel.parts)
        self.is_package = parts[-1] == "__init__"
        if self.is_package:
            parts.pop()
        self.name = ".".join(parts)
        self.path = path
        self.tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        doc = ast.get_docstring(self.tree) or ""
        found = _DECLARED.search(doc)
        self.declared = int(found.group(1)) if found else None

    @property
    def package(self) -> str:
        return self.name if self.is_package else self.name.rpartition(".")[0]


MODULES = {m.name: m for m in (Module(p) for p in sorted(ROOT.rglob("*.py")) if "__pycache__" not in p.parts)}


def layer(name: str) -> int | None:
    parts = name.split(".")[1:]
    if not parts:
        return 0  # colonies_pkg/__init__.py
    if parts[0] in LAYER_OF_HEAD:
        return LAYER_OF_HEAD[parts[0]]
    module = MODULES.get(f"{PKG}.{parts[0]}")
    return module.declared if module is not None else None


def _type_checking_block(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def imports(module: Module, *, top_level_only: bool = False) -> Iterator[tuple[str, int]]:
    """(imported module name, line) for every import; package names resolve to submodules."""
    def walk(node: ast.AST, top: bool) -> Iterator[ast.stmt]:
        for child in ast.iter_child_nodes(node):
            if _type_checking_block(child):
                continue
            nested = isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if top_level_only and nested:
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                yield child
            yield from walk(child, top and not nested)

    for node in walk(module.tree, True):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
            continue
        if node.level:
            base_parts = module.package.split(".")
            base_parts = base_parts[: len(base_parts) - (node.level - 1)]
            base = ".".join(base_parts + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        for alias in node.names:
            candidate = f"{base}.{alias.name}"
            yield (candidate if candidate in MODULES else base), node.lineno


def _where(module: Module, line: int) -> str:
    return f"{module.path.relative_to(ROOT.parent)}:{line}"


def test_modules_found() -> None:
    assert f"{PKG}.crypto" in MODULES and f"{PKG}.storage.db" in MODULES and f"{PKG}.server.app" in MODULES


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_module_has_a_layer(name: str) -> None:
    assert layer(name) is not None, (
        f"{name} is in no layer: add it to LAYER_OF_HEAD in tests/test_layers.py or say '(layer Ln)' "
        "in its module docstring")


@pytest.mark.parametrize("name", sorted(n for n, m in MODULES.items() if m.declared is not None))
def test_declared_layer_matches_table(name: str) -> None:
    assert MODULES[name].declared == layer(name), f"{name}: docstring says L{MODULES[name].declared}, " \
                                                  f"the table says L{layer(name)}"


def test_no_lower_layer_imports_a_higher_one() -> None:
    violations = []
    for module in MODULES.values():
        own = layer(module.name)
        for target, line in imports(module):
            if target != PKG and not target.startswith(PKG + "."):
                continue
            theirs = layer(target)
            if own is not None and theirs is not None and theirs > own:
                violations.append(f"{_where(module, line)}: {module.name} (L{own}) imports {target} (L{theirs})")
    assert not violations, "\n".join(violations)


def test_rpc_and_storage_do_not_import_each_other() -> None:
    violations = []
    for module in MODULES.values():
        for a, b in (("rpc", "storage"), ("storage", "rpc")):
            if module.name.startswith(f"{PKG}.{a}"):
                for target, line in imports(module):
                    if target == f"{PKG}.{b}" or target.startswith(f"{PKG}.{b}."):
                        violations.append(f"{_where(module, line)}: {module.name} imports {target}")
    assert not violations, "\n".join(violations)


@pytest.mark.parametrize("library", sorted(CONFINED))
def test_third_party_library_is_confined(library: str) -> None:
    allowed = CONFINED[library]
    violations = [
        f"{_where(module, line)}: {module.name} imports {target}"
        for module in MODULES.values()
        for target, line in imports(module)
        if (target == library or target.startswith(library + ".")) and not allowed(module.name)
    ]
    assert not violations, "\n".join(violations)


def test_package_init_imports_nothing_from_the_package() -> None:
    # `import colonies_pkg` must stay fast and side-effect free (STYLE.md layout).
    assert [t for t, _ in imports(MODULES[PKG]) if t.startswith(PKG)] == []


def test_no_import_cycles() -> None:
    """Equal-layer imports are allowed but must not form cycles, not even through an import inside
    a function: a lazy import hides a cycle from the interpreter, not from the reader."""
    graph = {
        name: sorted({t for t, _ in imports(m) if t in MODULES and t != name})
        for name, m in MODULES.items()
    }
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 = on stack, 2 = done
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_resolver_understands_relative_imports() -> None:
    """Self-check of the resolver on known imports, so the guards above cannot pass vacuously."""
    server_app = {t for t, _ in imports(MODULES[f"{PKG}.server.app"])}
    assert "starlette.applications" in server_app
    assert f"{PKG}.storage" in server_app or any(t.startswith(f"{PKG}.storage.") for t in server_app)
    domain_processes = {t for t, _ in imports(MODULES[f"{PKG}.domain.processes"])}
    assert f"{PKG}.storage.processes" in domain_processes  # `from ..storage import processes as store`
    assert f"{PKG}.errors" in domain_processes
    assert "coincurve" in {t for t, _ in imports(MODULES[f"{PKG}.crypto"])}


MAX_LINES = 600  # STYLE.md / issue 16: a module holds one thing a newcomer can read in one sitting


def test_no_module_is_over_600_lines() -> None:
    long = {name: n for name, m in MODULES.items() if (n := len(m.path.read_text().splitlines())) > MAX_LINES}
    assert not long, f"split these modules (lines): {long}"
