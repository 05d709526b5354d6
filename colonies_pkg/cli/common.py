"""Shared CLI plumbing: env-backed flags, the connection/key flags every client command takes,
the `Session` that signs and sends RPCs with them, command-group helpers and confirmation.

Env-backed flags resolve lazily (after parsing), so `--help`, the man page and shell completion
never depend on, or leak, the caller's environment: --help shows the variable names instead.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, overload

from ..config import env_bool

if TYPE_CHECKING:
    from ..client import Client
    from ..rpc.base import Msg

T = TypeVar("T")


class CliError(Exception):
    """A user-facing error: printed as one line (plus an optional hint), exit code 1."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


# --- env-backed flags ------------------------------------------------------------------------
class EnvDefault:
    """The default of a flag: the first set variable of `envs`, else `fallback`. Resolved by
    `resolve_env` after parsing; `str()` is what --help shows (never the variable's value)."""

    def __init__(self, envs: Sequence[str], fallback: Any, convert: Callable[[str], Any] | None) -> None:
        self.envs, self.fallback, self.convert = tuple(envs), fallback, convert

    def resolve(self, environ: dict[str, str] | os._Environ[str]) -> Any:
        for name in self.envs:
            raw = environ.get(name)
            if raw is None or raw == "":
                continue
            if self.convert is None:
                return raw
            try:
                return self.convert(raw)
            except (TypeError, ValueError) as exc:
                raise CliError(f"invalid value {raw!r} in {name}: {exc}") from exc
        return self.fallback

    def __str__(self) -> str:
        names = " or ".join(f"${e}" for e in self.envs)
        if self.fallback in (None, "", False):
            return names
        return f"{names}, else {self.fallback}"

    __repr__ = __str__


def env_arg(parser: argparse._ActionsContainer, *flags: str, env: str | Sequence[str], default: Any = None,
            help: str = "", **kwargs: Any) -> argparse.Action:
    """Add a flag whose default comes from the environment variable(s) `env` (first set wins)."""
    envs = (env,) if isinstance(env, str) else tuple(env)
    convert = env_bool if kwargs.get("action") in ("store_true", "store_false") else kwargs.get("type")
    shown = f"; default: {default}" if default not in (None, "", False) else ""
    text = f"{help} (env: {', '.join(envs)}{shown})"
    return parser.add_argument(*flags, default=EnvDefault(envs, default, convert),
                               help=text.replace("%", "%%"), **kwargs)


def resolve_env(args: argparse.Namespace, environ: dict[str, str] | os._Environ[str] | None = None) -> None:
    """Replace every EnvDefault left in `args` by its value from the environment."""
    environ = os.environ if environ is None else environ
    for name, value in vars(args).items():
        if isinstance(value, EnvDefault):
            setattr(args, name, value.resolve(environ))


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Shows real defaults (not None/False/empty, and not env-backed ones: their help says it)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if ("%(default)" in text or default in (None, False, "", [], argparse.SUPPRESS)
                or isinstance(default, EnvDefault) or not action.option_strings):
            return text
        return text + " (default: %(default)s)"


# --- connection and keys ---------------------------------------------------------------------
def client_parent() -> argparse.ArgumentParser:
    """Flags shared by every command that talks to a server (a parent parser)."""
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("connection")
    env_arg(g, "--host", env="COLONIES_SERVER_HOST", default="localhost", help="Colonies server host")
    env_arg(g, "--port", env=("COLONIES_SERVER_HTTP_PORT", "COLONIES_SERVER_PORT"), type=int, default=50080,
            help="Colonies server port")
    env_arg(g, "--tls", env=("COLONIES_TLS", "COLONIES_SERVER_TLS"), action="store_true", default=False,
            help="use HTTPS/WSS; plain HTTP unless this flag or the variable is true")
    g.add_argument("--insecure", action="store_true", help="disable TLS and use HTTP (overrides --tls)")
    g.add_argument("--skip-tls-verify", action="store_true", help="skip TLS certificate verification")
    env_arg(g, "--colonyname", env="COLONIES_COLONY_NAME", help="colony name")
    env_arg(g, "--prvkey", env="COLONIES_PRVKEY", help="private key of the calling user or executor")
    return p


def add_global_flags(parser: argparse.ArgumentParser) -> None:
    """Go-style global flags, given before the command: `colonies --insecure process ps`."""
    g = parser.add_argument_group("global options")
    g.add_argument("--insecure", dest="global_insecure", action="store_true", help="disable TLS and use HTTP")
    g.add_argument("--skip-tls-verify", dest="global_skip_tls_verify", action="store_true",
                   help="skip TLS certificate verification")
    env_arg(g, "-v", "--verbose", env="COLONIES_VERBOSE", action="store_true", default=False,
            help="print every request and its duration to stderr")


def add_colony_key(p: argparse._ActionsContainer) -> None:
    env_arg(p, "--colonyprvkey", env="COLONIES_COLONY_PRVKEY", help="private key of the colony owner")


def add_server_key(p: argparse._ActionsContainer) -> None:
    env_arg(p, "--serverprvkey", env="COLONIES_SERVER_PRVKEY", help="private key of the server owner")


class Session:
    """The connection and keys of one CLI invocation (from flags and COLONIES_* variables)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.host: str = getattr(args, "host", None) or "localhost"
        self.port: int = int(getattr(args, "port", None) or 50080)
        insecure = getattr(args, "insecure", False) or getattr(args, "global_insecure", False)
        self.tls = bool(getattr(args, "tls", False)) and not insecure
        self.verify = not (getattr(args, "skip_tls_verify", False) or getattr(args, "global_skip_tls_verify", False))
        self.verbose = bool(getattr(args, "verbose", False))
        self._client: Client | None = None

    # keys and names, required only where used
    def _need(self, attr: str, env: str, flag: str, what: str) -> str:
        value = getattr(self.args, attr, None)
        if not value:
            raise CliError(f"no {what}: set {env} or use {flag}")
        return str(value).strip()

    @property
    def colonyname(self) -> str:
        return self._need("colonyname", "COLONIES_COLONY_NAME", "--colonyname", "colony name")

    @property
    def prvkey(self) -> str:
        return self._need("prvkey", "COLONIES_PRVKEY", "--prvkey", "private key")

    @property
    def colony_prvkey(self) -> str:
        return self._need("colonyprvkey", "COLONIES_COLONY_PRVKEY", "--colonyprvkey", "colony private key")

    @property
    def server_prvkey(self) -> str:
        return self._need("serverprvkey", "COLONIES_SERVER_PRVKEY", "--serverprvkey", "server private key")

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"{'wss' if self.tls else 'ws'}://{self.host}:{self.port}/pubsub"

    @property
    def client(self) -> Client:
        if self._client is None:
            from ..client import Client

            self._client = Client(self.host, self.port, tls=self.tls, verify=self.verify)
        return self._client

    @overload
    def rpc(self, msg: Msg, prvkey: str | None, timeout: float | None = None, *, reply: None = None) -> Any: ...

    @overload
    def rpc(self, msg: Msg, prvkey: str | None, timeout: float | None = None, *, reply: type[T]) -> T: ...

    @overload
    def rpc(self, msg: Msg, prvkey: str | None, timeout: float | None = None, *, reply: object) -> Any: ...

    def rpc(self, msg: Msg, prvkey: str | None, timeout: float | None = None, *, reply: Any = None) -> Any:
        """`Client.rpc`: send a request Struct, get the reply (decoded into `reply` if given)."""
        with self._timed(msg):
            return self.client.rpc(msg, prvkey, timeout=timeout, reply=reply)

    @overload
    def rpc_json(self, msg: Msg, prvkey: str | None, reply: type[T], timeout: float | None = None) -> tuple[T, Any]: ...

    @overload
    def rpc_json(self, msg: Msg, prvkey: str | None, reply: object, timeout: float | None = None) -> tuple[Any, Any]: ...

    def rpc_json(self, msg: Msg, prvkey: str | None, reply: Any, timeout: float | None = None) -> tuple[Any, Any]:
        """`Client.rpc_json`: the reply decoded into `reply`, and as the JSON the server sent (which
        `--json` prints as it is)."""
        with self._timed(msg):
            return self.client.rpc_json(msg, prvkey, reply, timeout=timeout)

    @contextlib.contextmanager
    def _timed(self, msg: Msg) -> Iterator[None]:
        """With --verbose: one DEBU line per request, with its duration."""
        if not self.verbose:
            yield
            return
        from .output import debug

        started = time.monotonic()
        try:
            yield
        finally:
            debug("RPC", Duration=f"{(time.monotonic() - started) * 1000:.1f}ms",
                  MsgType=msg.__struct_config__.tag, Server=self.address)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


# --- command groups --------------------------------------------------------------------------
Func = Callable[[argparse.Namespace], "int | None"]


def add_group(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help: str,
              description: str | None = None,
              aliases: Sequence[str] = ()) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """A command group (`colonies NAME SUBCOMMAND`); returns its subparsers."""
    group = sub.add_parser(name, help=help, description=description or help, formatter_class=HelpFormatter,
                           aliases=list(aliases))
    gsub = group.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", title="subcommands")
    group.set_defaults(func=print_help_of(group))  # `colonies GROUP` alone: that level's help, exit 0
    return gsub


def print_help_of(parser: argparse.ArgumentParser) -> Func:
    def show_help(args: argparse.Namespace) -> int:
        parser.print_help()
        return 0

    return show_help


def add_command(gsub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help: str, func: Func, *,
                client: bool = True, description: str | None = None, aliases: Sequence[str] = ()) -> argparse.ArgumentParser:
    """A leaf command; `client=True` adds the connection/key flags."""
    parents = [client_parent()] if client else []
    p = gsub.add_parser(name, help=help, description=description or help, parents=parents,
                        formatter_class=HelpFormatter, aliases=list(aliases))
    p.set_defaults(func=func)
    return p


def add_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")


# --- confirmation ----------------------------------------------------------------------------
def confirm(question: str, yes: bool) -> None:
    """Ask `question (YES,no): ` unless `yes`. The answer is a line of stdin, typed or piped
    (`echo YES | colonies process removeall`, as with the Go CLI); only YES goes on."""
    if yes:
        return
    sys.stdout.write(f"{question} (YES,no): ")
    sys.stdout.flush()
    line = sys.stdin.readline() if sys.stdin else ""
    tty = bool(sys.stdin) and sys.stdin.isatty()
    if not tty:
        sys.stdout.write("\n")  # a piped answer is not echoed: end the prompt line
        sys.stdout.flush()
    if not line:
        raise CliError("aborted, nothing changed: no answer (end of input)", hint="answer YES, or add --yes")
    if line.strip() != "YES":
        raise CliError(f"aborted, nothing changed: the answer was {line.strip()!r}, not YES",
                       hint="type YES (in capitals) to confirm, or add --yes")
