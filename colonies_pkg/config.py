"""Server configuration (layer L1): one frozen Struct, built from flags and environment once."""
from __future__ import annotations

import os
from collections.abc import Mapping

import msgspec

TRUE_WORDS = ("1", "t", "true", "yes", "on")
FALSE_WORDS = ("0", "f", "false", "no", "off")


def parse_bool(text: str) -> bool | None:
    """A yes/no setting as people and the Go tools write it: True, False, or None when it is neither."""
    word = text.strip().lower()
    return True if word in TRUE_WORDS else False if word in FALSE_WORDS else None


def env_bool(value: str | None, default: bool = False) -> bool:
    """A boolean variable: `default` when unset or empty, else True only for a true word."""
    if value is None or value.strip() == "":
        return default
    return parse_bool(value) is True


class ServerConfig(msgspec.Struct, frozen=True):
    host: str = "0.0.0.0"
    port: int = 50080
    data_dir: str = "./colonies-data"
    server_id: str = ""
    allow_executor_reregister: bool = False
    stale_executor_seconds: int = 600
    cleanup_interval_seconds: int = 60
    deadline_period_seconds: float = 1.0
    retention: bool = False
    retention_policy_seconds: int = 200
    retention_period_seconds: float = 60.0
    synchronous: str = "FULL"
    max_body_bytes: int = 16 * 1024 * 1024
    body_timeout_seconds: float = 30.0  # a request body must arrive within this (a /cfs upload: per chunk)
    max_object_bytes: int = 64 * 1024**3
    build_version: str = ""
    build_time: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    database_url: str = ""  # postgresql://user:password@host:port/db; empty: SQLite in data_dir
    db_pool_size: int = 10  # PostgreSQL connections per replica
    replica_name: str = ""  # names this replica in leases and logs; default host:port:pid
    # in-memory process channels (README "Channels"): caps per channel, per process, in total
    channel_max_entries: int = 10_000
    channel_max_bytes: int = 64 * 1024**2
    channel_process_max_entries: int = 100_000
    channel_process_max_bytes: int = 256 * 1024**2
    channel_total_max_bytes: int = 1024**3
    channel_max_payload_bytes: int = 10 * 1024**2
    channel_rate: float = 100.0
    channel_burst: int = 500
    metrics: bool = True      # GET /metrics (COLONIES_METRICS, --no-metrics)
    dashboard: bool = True    # the web dashboard at /ui/ (COLONIES_DASHBOARD)

    @property
    def db_path(self) -> str:
        return os.path.join(self.data_dir, "colonies.db")

    @property
    def database(self) -> str:
        """Where the data is, for messages: the PostgreSQL URL without its password, or the file."""
        if self.database_url:
            from urllib.parse import urlsplit

            try:
                p = urlsplit(self.database_url)
                user = f"{p.username}@" if p.username else ""
                return f"postgresql://{user}{p.hostname or 'localhost'}:{p.port or 5432}{p.path}"
            except ValueError:
                return "postgresql://(unparseable URL)"
        return self.db_path

    @property
    def cfs_dir(self) -> str:
        """Where the embedded CFS object store keeps data."""
        return os.path.join(self.data_dir, "cfs")


_CHANNEL_ENV: tuple[tuple[str, str, type], ...] = (
    ("COLONIES_CHANNEL_MAX_ENTRIES", "channel_max_entries", int),
    ("COLONIES_CHANNEL_MAX_BYTES", "channel_max_bytes", int),
    ("COLONIES_CHANNEL_PROCESS_MAX_ENTRIES", "channel_process_max_entries", int),
    ("COLONIES_CHANNEL_PROCESS_MAX_BYTES", "channel_process_max_bytes", int),
    ("COLONIES_CHANNEL_TOTAL_MAX_BYTES", "channel_total_max_bytes", int),
    ("COLONIES_CHANNEL_MAX_PAYLOAD", "channel_max_payload_bytes", int),
    ("COLONIES_CHANNEL_RATE", "channel_rate", float),
    ("COLONIES_CHANNEL_BURST", "channel_burst", int),
)


def from_env(env: Mapping[str, str] | None = None, **overrides: object) -> ServerConfig:
    """Defaults ← COLONIES_* environment ← explicit overrides (from command-line flags)."""
    env = os.environ if env is None else env
    values: dict[str, object] = {}
    port = env.get("COLONIES_SERVER_HTTP_PORT") or env.get("COLONIES_SERVER_PORT")
    if port:
        values["port"] = int(port)
    if env.get("COLONIES_SERVER_HTTP_HOST"):
        values["host"] = env["COLONIES_SERVER_HTTP_HOST"]
    if env.get("COLONIES_DATA_DIR"):
        values["data_dir"] = env["COLONIES_DATA_DIR"]
    if env.get("COLONIES_SERVER_ID"):
        values["server_id"] = env["COLONIES_SERVER_ID"]
    elif env.get("COLONIES_SERVER_PRVKEY"):
        from .crypto import id_of_prvkey

        values["server_id"] = id_of_prvkey(env["COLONIES_SERVER_PRVKEY"])
    values["allow_executor_reregister"] = env_bool(env.get("COLONIES_ALLOW_EXECUTOR_REREGISTER"))
    if env.get("COLONIES_STALE_EXECUTOR_DURATION"):
        values["stale_executor_seconds"] = int(env["COLONIES_STALE_EXECUTOR_DURATION"])
    if env.get("COLONIES_CLEANUP_INTERVAL"):
        values["cleanup_interval_seconds"] = int(env["COLONIES_CLEANUP_INTERVAL"])
    values["retention"] = env_bool(env.get("COLONIES_RETENTION"))
    if env.get("COLONIES_RETENTION_POLICY"):
        values["retention_policy_seconds"] = int(env["COLONIES_RETENTION_POLICY"])
    if env.get("COLONIES_DB_SYNCHRONOUS"):
        values["synchronous"] = env["COLONIES_DB_SYNCHRONOUS"].upper()
    values["tls_cert"] = env.get("COLONIES_TLSCERT") or env.get("COLONIES_SERVER_HTTP_TLS_CERT") or ""
    values["tls_key"] = env.get("COLONIES_TLSKEY") or env.get("COLONIES_SERVER_HTTP_TLS_KEY") or ""
    if env.get("COLONIES_DATABASE_URL"):
        values["database_url"] = env["COLONIES_DATABASE_URL"]
    if env.get("COLONIES_DB_POOL_SIZE"):
        values["db_pool_size"] = int(env["COLONIES_DB_POOL_SIZE"])
    if env.get("COLONIES_REPLICA_NAME"):
        values["replica_name"] = env["COLONIES_REPLICA_NAME"]
    if env.get("COLONIES_BODY_TIMEOUT"):
        values["body_timeout_seconds"] = float(env["COLONIES_BODY_TIMEOUT"])
    for var, key, kind in _CHANNEL_ENV:
        if env.get(var):
            values[key] = kind(env[var])
    values["metrics"] = env_bool(env.get("COLONIES_METRICS"), True)
    values["dashboard"] = env_bool(env.get("COLONIES_DASHBOARD"), True)
    values["build_version"] = env.get("BUILD_VERSION", "")
    values["build_time"] = env.get("BUILD_TIME", "")
    values.update({k: v for k, v in overrides.items() if v is not None})
    if values.get("synchronous", "FULL") not in ("OFF", "NORMAL", "FULL", "EXTRA"):
        raise ValueError("COLONIES_DB_SYNCHRONOUS must be one of OFF, NORMAL, FULL, EXTRA")
    return ServerConfig(**values)  # type: ignore[arg-type]
