"""Storage hands the domain typed rows or models, never driver rows (issue 16, item 4), and
storage modules are named like their domain twins."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "colonies_pkg"
FACADES = {"__init__", "db", "postgres", "rows", "tx", "walsync"}  # the connection layer, not per-area SQL


def _area_modules() -> list[Path]:
    return [p for p in sorted((ROOT / "storage").glob("*.py")) if p.stem not in FACADES]


def test_every_storage_function_declares_a_typed_return_and_no_driver_row() -> None:
    offenders = []
    for path in _area_modules():
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                ret = ast.unparse(node.returns) if node.returns else ""
                if not ret or "sqlite3" in ret or ret in ("Any", "tuple", "list"):
                    offenders.append(f"{path.stem}.{node.name} -> {ret or '(none)'}")
    assert offenders == []


def test_no_module_above_storage_imports_sqlite3() -> None:
    for path in ROOT.rglob("*.py"):
        if "storage" in path.relative_to(ROOT).parts:
            continue
        assert "import sqlite3" not in path.read_text(encoding="utf-8"), path


# Read models with no domain rules of their own: stats.py feeds the metrics exporter (server/observe.py).
READ_MODELS = {"stats"}


def test_storage_modules_are_named_like_their_domain_twins() -> None:
    domain = {p.stem for p in (ROOT / "domain").glob("*.py")} | READ_MODELS
    for path in _area_modules():
        assert path.stem in domain, f"storage/{path.name} has no domain/{path.name}"
