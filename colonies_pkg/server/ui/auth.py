"""Dashboard sessions without a private key in the browser.

A session is a random id in an HttpOnly, SameSite=Strict cookie, mapped server-side to the
ColonyOS ids it acts as and a CSRF token; it expires after `SESSION_SECONDS`. Two ways in:

- a one-time login token, made by the server itself (`colonies dev` prints it as the
  `Dashboard: http://…/ui/login?token=…` line) with the ids of the dev keys;
- a login ticket signed by the CLI (`colonies ui`): the base64url JSON
  `{"msgtype": "uiloginmsg", "colonyname": …, "nonce": …, "exp": unix seconds}` and one ColonyOS
  signature per key (`sig=<130 hex>,<130 hex>…`). The server recovers each signer's id, checks the
  expiry (at most TICKET_SECONDS ahead) and that the nonce was never used.

Sessions carry ids only: what a page shows and what a button does is decided by the same
handlers and rules as the RPC (see app.call).
"""
from __future__ import annotations

import base64
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...crypto import recover_id, sign
from ...errors import BadRequest, Forbidden

SESSION_SECONDS = 12 * 3600
LOGIN_TOKEN_SECONDS = 24 * 3600
TICKET_SECONDS = 600
MAX_SESSIONS = 10_000
COOKIE = "colonies_ui"


@dataclass
class Session:
    sid: str
    identities: list[str]
    colonies: list[str]
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    expires: float = 0.0


class Auth:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._sessions: dict[str, Session] = {}
        self._tokens: dict[str, tuple[float, list[str], list[str]]] = {}
        self._nonces: dict[str, float] = {}

    # --- one-time login tokens (dev) ---------------------------------------------------------------
    def login_token(self, identities: list[str], colonies: list[str]) -> str:
        token = secrets.token_hex(32)
        self._tokens[token] = (self.clock() + LOGIN_TOKEN_SECONDS, list(identities), list(colonies))
        return token

    def redeem_token(self, token: str) -> Session:
        entry = self._tokens.pop(token, None)
        if entry is None or entry[0] < self.clock():
            raise Forbidden("This login link was already used or has expired; ask for a new one")
        return self._new_session(entry[1], entry[2])

    # --- signed tickets (colonies ui) -------------------------------------------------------------
    def redeem_ticket(self, ticket: str, signatures: str) -> Session:
        try:
            raw = base64.urlsafe_b64decode(ticket + "=" * (-len(ticket) % 4))
            body = json.loads(raw)
        except (ValueError, TypeError) as exc:
            raise BadRequest("Invalid login ticket") from exc
        if not isinstance(body, dict) or body.get("msgtype") != "uiloginmsg":
            raise BadRequest("Invalid login ticket: msgtype must be uiloginmsg")
        exp, nonce, colony = body.get("exp"), body.get("nonce"), body.get("colonyname", "")
        now = self.clock()
        if not isinstance(exp, (int, float)) or not isinstance(nonce, str) or len(nonce) < 16:
            raise BadRequest("Invalid login ticket: exp and nonce are required")
        if exp < now:
            raise Forbidden("Login ticket has expired; run `colonies ui` again")
        if exp > now + TICKET_SECONDS:
            raise Forbidden(f"Login ticket lives too long (at most {TICKET_SECONDS} s)")
        self._nonces = {n: t for n, t in self._nonces.items() if t >= now}
        if nonce in self._nonces:
            raise Forbidden("Login ticket was already used")
        sigs = [s for s in signatures.split(",") if s][:4]
        if not sigs:
            raise Forbidden("Login ticket is not signed")
        identities = list(dict.fromkeys(recover_id(ticket, s) for s in sigs))
        self._nonces[nonce] = float(exp)
        return self._new_session(identities, [colony] if isinstance(colony, str) and colony else [])

    # --- sessions ---------------------------------------------------------------------------------
    def _new_session(self, identities: list[str], colonies: list[str]) -> Session:
        now = self.clock()
        if len(self._sessions) >= MAX_SESSIONS:
            self._sessions = {k: s for k, s in self._sessions.items() if s.expires >= now}
            if len(self._sessions) >= MAX_SESSIONS:  # still full: drop the oldest
                del self._sessions[min(self._sessions, key=lambda k: self._sessions[k].expires)]
        session = Session(secrets.token_urlsafe(32), identities, colonies, expires=now + SESSION_SECONDS)
        self._sessions[session.sid] = session
        return session

    def get(self, sid: str | None) -> Session | None:
        session = self._sessions.get(sid or "")
        if session is None:
            return None
        if session.expires < self.clock():
            del self._sessions[session.sid]
            return None
        return session

    def end(self, sid: str) -> None:
        self._sessions.pop(sid, None)

    @staticmethod
    def csrf_ok(session: Session, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(session.csrf, str(token))


def of(services: Any) -> Auth:
    """The dashboard's Auth of a server (created on first use)."""
    auth = getattr(services, "ui_auth", None)
    if auth is None:
        auth = services.ui_auth = Auth()
    return auth


def make_ticket(colonyname: str, prvkeys: list[str], clock: Callable[[], float] = time.time,
                lifetime: int = 120) -> tuple[str, str]:
    """(ticket, signatures) for /ui/login, signed by every key given (CLI side)."""
    body = {"msgtype": "uiloginmsg", "colonyname": colonyname, "nonce": secrets.token_hex(16),
            "exp": int(clock()) + lifetime}
    ticket = base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")
    return ticket, ",".join(sign(ticket, key) for key in prvkeys)
