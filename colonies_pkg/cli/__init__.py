"""The `colonies` command line (layer L6): `main(argv) -> int` builds the parser and dispatches.

Each command group lives in its own module with `register(subparsers)`; errors print one line
to stderr and return a non-zero exit code.
"""
from __future__ import annotations

import argparse
import sys

from .. import __version__
from ..errors import ColoniesError
from . import dev, keys, server
from .common import CliError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="colonies", allow_abbrev=False,
        description="ColonyOS Colonies server, CLI and sample executor (colonies-py).")
    parser.add_argument("--version", action="version", version=f"colonies-py {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    dev.register(sub)
    server.register(sub)
    keys.register(sub)
    version = sub.add_parser("version", help="print the version")
    version.set_defaults(func=lambda args: print(f"colonies-py {__version__}") or 0)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except (CliError, ColoniesError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
