"""Documentation checks: every `colonies` command has help text, appears in README.md, and the
man page builds from the parser (scripts/build_manpage.sh, needs the `docs` extra)."""
from __future__ import annotations

import argparse
import importlib.util
import re
import subprocess
from pathlib import Path

import pytest

from colonies_pkg.cli import build_parser

REPO = Path(__file__).resolve().parents[1]


def commands(parser: argparse.ArgumentParser, path: str = "") -> list[tuple[str, argparse.ArgumentParser, str]]:
    """(path, parser, help) for every command and subcommand, aliases left out."""
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, sub in action.choices.items():
                if name not in helps:  # an alias
                    continue
                full = f"{path} {name}".strip()
                out.append((full, sub, helps[name]))
                out += commands(sub, full)
    return out


ALL = commands(build_parser())
LEAVES = [path for path, parser, _ in ALL
          if not any(isinstance(a, argparse._SubParsersAction) for a in parser._actions)]


def test_every_command_has_help() -> None:
    assert len(LEAVES) > 60
    for path, parser, text in ALL:
        assert text.strip(), f"`colonies {path}` has no help text"
        assert (parser.description or "").strip(), f"`colonies {path}` has no description"


def test_every_command_is_in_the_readme() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    missing = [path for path in LEAVES if f"colonies {path}" not in readme]
    assert not missing, f"not in README.md: {', '.join(missing)}"


def test_man_page_builds(tmp_path: Path) -> None:
    if importlib.util.find_spec("argparse_manpage") is None:
        pytest.skip("argparse-manpage is not installed (pip install '.[docs]')")
    out = tmp_path / "colonies.1"
    result = subprocess.run(["bash", str(REPO / "scripts" / "build_manpage.sh"), str(out)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    page = out.read_text(encoding="utf-8")
    assert page.startswith(".TH") or ".TH " in page
    for path in LEAVES:
        assert f"colonies {path}" in page, f"`colonies {path}` is not in the man page"


def test_ci_runs_the_readme_test_command() -> None:
    """The README's quick start names two commands; CI runs the second one verbatim."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)\n```", readme, re.S)
    run_cmd, test_cmd = blocks[0].strip(), blocks[1].strip()
    assert run_cmd == "./zipapp.sh && python colonies.pyz dev"
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert test_cmd in ci
