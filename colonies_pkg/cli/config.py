"""`colonies config`: show the configuration the other commands would use (never key values)."""
from __future__ import annotations

import argparse

from .common import HelpFormatter, Session, add_colony_key, add_json, add_server_key, client_parent
from .output import print_json
from .table import kv_table


def _show(args: argparse.Namespace) -> int:
    s = Session(args)
    keys = {"PrvKey": args.prvkey, "ColonyPrvKey": args.colonyprvkey, "ServerPrvKey": args.serverprvkey}
    shown = {
        "ColoniesServer": s.address,
        "TLS": "true" if s.tls else "false",
        "Colony": args.colonyname or "",
        **{name: "set" if value else "not set" for name, value in keys.items()},
    }
    if args.json:
        print_json(shown)
    else:
        kv_table(list(shown.items()), title="Current configuration")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("config", help="Show currently used configuration", parents=[client_parent()],
                       description="Show the server, TLS setting and colony the commands use, and which "
                                   "private keys are set (their values are never printed).",
                       formatter_class=HelpFormatter)
    add_colony_key(p)
    add_server_key(p)
    add_json(p)
    p.set_defaults(func=_show)
