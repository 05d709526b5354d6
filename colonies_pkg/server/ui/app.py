"""The dashboard's ASGI app: routes, the session gate, actions, the live stream, static files.

Every read and every action goes through `call`, which runs the RPC handler of the message
for each id of the session in turn (user, colony owner, server owner) until one is allowed: a
page shows exactly what that key could read over `POST /api`, and a button does exactly what
the RPC would let the key do. Forbidden → a 403 page, nothing changed.
"""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from ...errors import BadRequest, ColoniesError, Forbidden, NotFound
from ...rpc import messages as m
from ...rpc.base import Msg
from ..context import Context, Services
from ..dispatch import HANDLERS, Reply
from . import auth, pages
from .html import esc, page, tag, url

MAX_STREAMS = 200
MAX_FORM_BYTES = 16 * 1024
STREAM_SECONDS = 300.0    # a stream ends after this; EventSource reconnects by itself
HEARTBEAT_SECONDS = 15.0
COALESCE_SECONDS = 0.5    # at most two "changed" signals per second per tab
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
SECURITY_HEADERS = {"content-security-policy": CSP, "x-content-type-options": "nosniff",
                    "referrer-policy": "same-origin", "cache-control": "no-store", "x-frame-options": "DENY"}
Endpoint = Callable[[Request], Awaitable[Response]]
STATIC_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


class Ui:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.auth = auth.of(services)
        self.streams = 0

    # --- calling the RPC handlers as the session ----------------------------------------------------
    async def call(self, session: auth.Session, msg: Msg) -> Any:
        handler = HANDLERS[type(msg)]
        refused: ColoniesError | None = None
        for identity in session.identities:
            try:
                result = await handler(Context(self.services, identity), msg)
            except Forbidden as exc:
                refused = exc
                continue
            if isinstance(result, Reply):
                result = result.body
            if result is None:
                return None
            return msgspec.json.decode(result if isinstance(result, bytes) else msgspec.json.encode(result))
        raise refused or Forbidden("Access denied")

    async def maybe(self, session: auth.Session, msg: Msg, default: Any = None) -> Any:
        """Like call, but Forbidden gives `default` (optional parts of a page)."""
        try:
            return await self.call(session, msg)
        except Forbidden:
            return default

    async def colonies_of(self, session: auth.Session) -> list[str]:
        every = await self.maybe(session, m.GetColoniesMsg(), None)
        names = [c["name"] for c in every] if every is not None else []
        return list(dict.fromkeys([*session.colonies, *names]))

    # --- request plumbing -------------------------------------------------------------------------
    def session_of(self, request: Request) -> auth.Session | None:
        return self.auth.get(request.cookies.get(auth.COOKIE))

    def respond(self, request: Request, session: auth.Session, title: str, body: Any, *, colony: str = "",
                active: str = "", colonies: list[str] | None = None, live: str = "", controls: Any = "",
                status: int = 200) -> Response:
        if request.headers.get("x-ui-fragment") == "1":
            return HTMLResponse(str(esc(body)), status_code=status, headers=SECURITY_HEADERS)
        doc = page(title, body, colony=colony, active=active, colonies=colonies or [colony], live=live,
                   csrf=session.csrf, controls=controls)
        return HTMLResponse(str(doc), status_code=status, headers=SECURITY_HEADERS)


def _error_page(status: int, title: str, message: str, *, logged_in: bool = True) -> Response:
    hint = "" if logged_in else tag("p", "Open the login link printed by `colonies dev` or `colonies ui`.")
    body = tag("section", tag("h1", title) + tag("p", message, class_="error") + hint, class_="card")
    doc = page(title, body)
    return HTMLResponse(str(doc), status_code=status, headers=SECURITY_HEADERS)


def _rpc_error_page(exc: ColoniesError) -> Response:
    """The page for an RPC refusal: 403 and 404 by name, other client faults as they are, else 500."""
    if isinstance(exc, Forbidden):
        return _error_page(403, "Not allowed", str(exc.message))
    if isinstance(exc, NotFound):
        return _error_page(404, "Not found", str(exc.message))
    return _error_page(exc.status if 400 <= exc.status < 500 else 500, "Error", str(exc.message))


def make_app(services: Services) -> Starlette:
    ui = Ui(services)

    def gated(render: Callable[[Ui, Request, auth.Session], Awaitable[Response]]) -> Endpoint:
        """A page handler with a live session; RPC errors become error pages."""
        async def endpoint(request: Request) -> Response:
            session = ui.session_of(request)
            if session is None:
                return _error_page(401, "Please log in", "You are not logged in, or your session expired.",
                                   logged_in=False)
            try:
                return await render(ui, request, session)
            except ColoniesError as exc:
                return _rpc_error_page(exc)
        return endpoint

    def action(perform: Callable[[Ui, Request, auth.Session, dict[str, str]], Awaitable[str]]) -> Endpoint:
        """A POST handler: session + CSRF token + same origin, then the RPC, then back to the page."""
        async def endpoint(request: Request) -> Response:
            session = ui.session_of(request)
            if session is None:
                return _error_page(401, "Please log in", "Your session expired.", logged_in=False)
            try:
                form = await _form(request)
                origin = request.headers.get("origin")
                if not ui.auth.csrf_ok(session, form.get("csrf")) or (origin and origin != _origin(request)):
                    return _error_page(403, "Refused", "The form was not sent by this dashboard (CSRF check failed).")
                target = await perform(ui, request, session, form)
            except ColoniesError as exc:
                return _rpc_error_page(exc)
            if services.observer is not None:
                services.observer.mark_dirty()
            return RedirectResponse(target, status_code=303)
        return endpoint

    routes = [
        Route("/", gated(_home)),
        Route("/login", _login_endpoint(ui)),
        Route("/logout", _logout_endpoint(ui), methods=["POST"]),
        Route("/static/{name}", _static),
        Route("/events", _events_endpoint(ui)),
        Route("/server", gated(pages.server)),
        Route("/c/{colony}/", gated(pages.overview)),
        Route("/c/{colony}/processes", gated(pages.processes)),
        Route("/c/{colony}/processes/{processid}", gated(pages.process)),
        Route("/c/{colony}/processes/{processid}/{verb}", action(pages.process_action), methods=["POST"]),
        Route("/c/{colony}/workflows", gated(pages.workflows)),
        Route("/c/{colony}/workflows/{graphid}", gated(pages.workflow)),
        Route("/c/{colony}/workflows/{graphid}/{verb}", action(pages.workflow_action), methods=["POST"]),
        Route("/c/{colony}/executors", gated(pages.executors)),
        Route("/c/{colony}/executors/{name}/{verb}", action(pages.executor_action), methods=["POST"]),
        Route("/c/{colony}/functions", gated(pages.functions)),
        Route("/c/{colony}/crons", gated(pages.crons)),
        Route("/c/{colony}/logs", gated(pages.logs)),
        Route("/c/{colony}/files", gated(pages.files)),
    ]
    return Starlette(routes=routes)


async def _form(request: Request) -> dict[str, str]:
    """A small urlencoded form (the dashboard's buttons); no multipart parser needed."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise BadRequest("Form too large")
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}


def _origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.headers.get('host', '')}"


async def _home(ui: Ui, request: Request, session: auth.Session) -> Response:
    colonies = await ui.colonies_of(session)
    if colonies:
        return RedirectResponse(url(colonies[0]), status_code=303)
    return RedirectResponse("/ui/server", status_code=303)


def _login_endpoint(ui: Ui) -> Endpoint:
    async def login(request: Request) -> Response:
        q = request.query_params
        try:
            if q.get("token"):
                session = ui.auth.redeem_token(q["token"])
            elif q.get("ticket"):
                session = ui.auth.redeem_ticket(q["ticket"], q.get("sig", ""))
                try:  # anyone can sign with a fresh key: keep only sessions of someone this server knows
                    if session.colonies:
                        await ui.call(session, m.GetColonyMsg(colonyname=session.colonies[0]))
                    else:
                        await ui.call(session, m.GetStatisticsMsg())
                except ColoniesError:
                    ui.auth.end(session.sid)
                    raise
            else:
                raise BadRequest("Missing token or ticket")
        except ColoniesError as exc:
            return _error_page(exc.status, "Login failed", str(exc.message), logged_in=False)
        # A same-origin page that moves on: the SameSite=Strict cookie then goes with the next request.
        body = tag("p", tag("a", "Logged in: continue to the dashboard", href="/ui/"))
        response = HTMLResponse(
            f'<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=/ui/">'
            f"<title>Logged in</title>{body}", headers=SECURITY_HEADERS)
        response.set_cookie(auth.COOKIE, session.sid, max_age=auth.SESSION_SECONDS, path="/ui", httponly=True,
                            samesite="strict", secure=bool(ui.services.config.tls_cert))
        return response
    return login


def _logout_endpoint(ui: Ui) -> Endpoint:
    async def logout(request: Request) -> Response:
        session = ui.session_of(request)
        try:
            form = await _form(request)
        except BadRequest as exc:
            return _error_page(400, "Error", str(exc.message))
        if session is not None:
            if not ui.auth.csrf_ok(session, form.get("csrf")):
                return _error_page(403, "Refused", "The form was not sent by this dashboard (CSRF check failed).")
            ui.auth.end(session.sid)
        response = _error_page(200, "Logged out", "You are logged out.", logged_in=False)
        response.delete_cookie(auth.COOKIE, path="/ui")
        return response
    return logout


async def _static(request: Request) -> Response:
    name = request.path_params["name"]
    kind = STATIC_TYPES.get(name[name.rfind("."):]) if "." in name else None
    if kind is None or "/" in name or name.startswith("."):
        return Response("not found", status_code=404)
    try:
        data = resources.files(__package__).joinpath("static", name).read_bytes()
    except (FileNotFoundError, OSError):
        return Response("not found", status_code=404)
    return Response(data, media_type=kind, headers={"cache-control": "max-age=300", "x-content-type-options": "nosniff"})


def _events_endpoint(ui: Ui) -> Endpoint:
    """`GET /ui/events?colony=C[&process=P]`: server-sent `changed` signals for one tab."""
    async def events(request: Request) -> Response:
        session = ui.session_of(request)
        if session is None:
            return Response("not logged in", status_code=401)
        colony = request.query_params.get("colony", "")
        processid = request.query_params.get("process", "")
        observer = ui.services.observer
        try:
            if processid:
                process = await ui.call(session, m.GetProcessMsg(processid=processid))
                colony = (process.get("spec") or {}).get("conditions", {}).get("colonyname", colony)
            elif colony:
                await ui.call(session, m.GetColonyMsg(colonyname=colony))
        except ColoniesError as exc:
            return Response(str(exc.message), status_code=exc.status)
        if observer is None or ui.streams >= MAX_STREAMS:
            return Response("too many live streams; polling instead", status_code=503)

        async def stream() -> AsyncIterator[str]:
            ui.streams += 1
            if processid:
                observer.watch(processid)
            try:
                yield "retry: 2000\n\n"
                seen = observer.version(colony, processid)
                loop = asyncio.get_running_loop()
                end = loop.time() + STREAM_SECONDS
                last_sent = loop.time()
                while loop.time() < end and not observer.closing:
                    current = observer.version(colony, processid)
                    if current != seen:  # checked before waiting: nothing that happened meanwhile is lost
                        seen = current
                        last_sent = loop.time()
                        yield "event: changed\ndata: {}\n\n"
                        await asyncio.sleep(COALESCE_SECONDS)
                        continue
                    await observer.wait_changed(HEARTBEAT_SECONDS)
                    if observer.version(colony, processid) == seen and loop.time() - last_sent >= HEARTBEAT_SECONDS:
                        last_sent = loop.time()
                        yield ": ping\n\n"
            finally:
                ui.streams -= 1
                if processid:
                    with contextlib.suppress(KeyError):
                        observer.unwatch(processid)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"cache-control": "no-store", "x-accel-buffering": "no"})
    return events
