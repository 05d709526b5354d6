"""The `colonies` command line (layer L6): `main(argv) -> int` builds the parser and dispatches.

Each command group lives in its own module with `register(subparsers)`. Flags backed by
COLONIES_* variables are resolved after parsing (`common.resolve_env`). Errors print one line
(and an optional hint) to stderr and return exit code 1.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from .. import __version__
from ..errors import ColoniesError
from . import common
from .common import CliError, HelpFormatter, resolve_env

# Command groups in help order (`version` and then `workflow` follow). Imported on use, so that
# `server start` and `dev` do not load the client-side modules (start-up time, issue 11).
GROUPS = ("attribute", "blueprint", "colony", "completion", "config", "cron", "dev", "executor", "fs", "function", "generator",
          "keys", "location", "log", "monitor", "process", "server", "ui", "user")
SERVER_GROUPS = ("dev", "server")

DESCRIPTION = """\
Colonies CLI tool (colonies-py): run a ColonyOS Colonies server and talk to one.

The connection and keys come from COLONIES_SERVER_HOST, COLONIES_SERVER_PORT, COLONIES_TLS,
COLONIES_COLONY_NAME, COLONIES_PRVKEY, COLONIES_COLONY_PRVKEY and COLONIES_SERVER_PRVKEY, or from
the flags of each command (see `colonies COMMAND SUBCOMMAND --help`). Unlike the Go CLI, plain
HTTP is used unless COLONIES_TLS (or COLONIES_SERVER_TLS) is true or --tls is given."""


def _version(args: argparse.Namespace) -> int:
    print(f"colonies-py {__version__}")
    return 0


def _help(args: argparse.Namespace) -> int:
    """`colonies help [COMMAND …]`, as in the Go CLI: the help of that command."""
    try:
        build_parser().parse_args([*args.topic, "--help"])
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command tree, or (`only`) the tree of one command group."""
    parser = argparse.ArgumentParser(prog="colonies", allow_abbrev=False, description=DESCRIPTION,
                                     formatter_class=HelpFormatter)
    parser.add_argument("--version", action="version", version=f"colonies-py {__version__}")
    common.add_global_flags(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    parser.set_defaults(func=common.print_help_of(parser))  # bare `colonies`: the help, exit 0
    for name in GROUPS if only is None else (only,):
        importlib.import_module(f".{name}", __name__).register(sub)
    if only is None:
        version = sub.add_parser("version", help="Print the version", description="Print the version")
        version.set_defaults(func=_version)
        helper = sub.add_parser("help", help="Help about any command", description="Help about any command")
        helper.add_argument("topic", nargs="*", metavar="COMMAND", help="e.g. `process` or `process ps`")
        helper.set_defaults(func=_help)
        importlib.import_module(".workflow", __name__).register(sub)
    parser.set_defaults(root_parser=parser)  # `completion` walks the whole tree
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv[0] if argv and argv[0] in SERVER_GROUPS else None)
    args = parser.parse_args(argv)
    try:
        resolve_env(args)
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `colonies process pss | head`
        sys.stderr.close()
        return 1
    except (CliError, ColoniesError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        hint = getattr(exc, "hint", None)
        if hint is None and getattr(exc, "status", None) == 0:  # could not connect
            hint = "is the server running? Check COLONIES_SERVER_HOST, COLONIES_SERVER_PORT and COLONIES_TLS"
        if hint:
            print(f"Hint: {hint}", file=sys.stderr)
        return 1
