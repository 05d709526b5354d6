"""`colonies ui`: a one-time login URL for the server's web dashboard, for your own keys.

Signs a short-lived login ticket (`uiloginmsg`: colony, nonce, expiry in 2 minutes) with
COLONIES_PRVKEY, and also with COLONIES_COLONY_PRVKEY / COLONIES_SERVER_PRVKEY when those are
set, so the session gets the rights of each key. Only the ticket and its signatures are in the
URL, never a key; the server turns it into an HttpOnly session cookie and forgets the ticket.
"""
from __future__ import annotations

import argparse
import webbrowser
from urllib.parse import urlencode

from .common import Session, add_colony_key, add_command, add_server_key


def login_url(args: argparse.Namespace) -> str:
    from ..server.ui.auth import make_ticket

    session = Session(args)
    keys = [session.prvkey]
    keys += [k.strip() for k in (getattr(args, "colonyprvkey", None), getattr(args, "serverprvkey", None)) if k]
    ticket, sigs = make_ticket(session.colonyname, list(dict.fromkeys(keys)))
    scheme = "https" if session.tls else "http"
    return f"{scheme}://{session.address}/ui/login?" + urlencode({"ticket": ticket, "sig": sigs})


def _run(args: argparse.Namespace) -> int:
    url = login_url(args)
    print(f"Dashboard: {url}", flush=True)
    if args.open:
        webbrowser.open(url)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(sub, "ui", "Print (or open) a login URL for the web dashboard", _run, description=__doc__)
    p.add_argument("--open", action="store_true", help="open the URL in a web browser")
    add_colony_key(p)
    add_server_key(p)
