"""`colonies key generate|id` (also `security`): secp256k1 keys and their ColonyOS ids."""
from __future__ import annotations

import argparse

from ..crypto import generate_prvkey, id_of_prvkey
from .common import CliError


def _generate(args: argparse.Namespace) -> int:
    prv = generate_prvkey()
    print(f"PrvKey: {prv}")
    print(f"Id: {id_of_prvkey(prv)}")
    return 0


def _id(args: argparse.Namespace) -> int:
    try:
        print(id_of_prvkey(args.prvkey.strip()))
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    for name in ("key",):
        group = sub.add_parser(name, help="generate private keys and derive ids")
        gsub = group.add_subparsers(dest="subcommand", metavar="SUBCOMMAND")
        gsub.required = True
        gen = gsub.add_parser("generate", help="generate a new private key and print it with its id")
        gen.set_defaults(func=_generate)
        ident = gsub.add_parser("id", help="print the id of a private key")
        ident.add_argument("--prvkey", required=True, help="private key (64 hex characters)")
        ident.set_defaults(func=_id)
