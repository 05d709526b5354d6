"""`colonies key generate|id` (alias `security`): secp256k1 private keys and their ColonyOS ids.

The id of a key is what colonies, users and executors are registered with; the server recovers
it from every signature.
"""
from __future__ import annotations

import argparse

from ..crypto import generate_prvkey, id_of_prvkey
from .common import CliError, add_group, add_json, env_arg
from .output import info, print_json


def _generate(args: argparse.Namespace) -> int:
    prv = generate_prvkey()
    ident = id_of_prvkey(prv)
    if args.json:
        print_json({"id": ident, "prvkey": prv})
    else:
        info("Generated new private key", Id=ident, PrvKey=prv)
    return 0


def _id(args: argparse.Namespace) -> int:
    if not args.prvkey:
        raise CliError("no private key: use --prvkey (or set COLONIES_PRVKEY)")
    try:
        ident = id_of_prvkey(args.prvkey.strip())
    except ValueError as exc:
        raise CliError(f"invalid private key: {exc}") from exc
    if args.json:
        print_json({"id": ident})
    else:
        info("Corresponding Id for the given private key", Id=ident)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    g = add_group(sub, "key", "Manage private keys", aliases=["security"])
    p = g.add_parser("generate", help="Generate a new private key and print it with its id",
                     description="Generate a new private key and print it with its id")
    add_json(p)
    p.set_defaults(func=_generate)
    p = g.add_parser("id", help="Print the id of a private key", description="Print the id of a private key")
    env_arg(p, "--prvkey", env="COLONIES_PRVKEY", help="private key (64 hex characters)")
    add_json(p)
    p.set_defaults(func=_id)
