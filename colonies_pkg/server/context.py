"""What a handler gets: the database, the hub, the config and the authenticated caller."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ..channelhub import ChannelHub
from ..config import ServerConfig
from ..domain.channels import Limits
from ..errors import Unavailable
from ..hub import Hub
from ..storage import Backend

T = TypeVar("T")


class Services:
    """Long-lived parts shared by every request."""

    def __init__(self, config: ServerConfig, db: Backend | None, hub: Hub) -> None:
        self.config = config
        self._db = db  # storage.Database (SQLite) or storage.postgres.PgDatabase: the same seam
        self.hub = hub
        self.leader: Any = None  # replicas.Leader
        self.bridge: Any = None  # replicas.Bridge, with PostgreSQL
        self.observer: Any = None  # server.observe.Observer when metrics or the dashboard are on
        self.channels = ChannelHub(Limits.from_config(config))
        self.subscriptions = 0  # open /pubsub subscriptions (process, processes and channel)

    @property
    def db(self) -> Backend:
        """The open database (the app's lifespan opens it before the first request)."""
        if self._db is None:
            raise Unavailable("The database is not open")
        return self._db

    @db.setter
    def db(self, db: Backend) -> None:
        self._db = db

    def close_subscriptions(self) -> tuple[int, int]:
        """The server is stopping: end every subscription and wake every parked long-poll; each
        answers and closes on its own. Returns (subscriptions ended, long-polls woken)."""
        subscriptions, polls = self.hub.close()
        return subscriptions + self.channels.close(), polls

    def draining(self) -> bool:
        """Subscriptions or long-polls still open."""
        return self.subscriptions > 0 or self.hub.active() > 0

    def publish(self, events: list[Any]) -> None:
        """After each commit: wake assigners and subscribers, free channels of ended processes."""
        self.hub.publish(events)
        self.channels.publish(events)


class Context:
    __slots__ = ("caller", "services")

    def __init__(self, services: Services, caller: str) -> None:
        self.services = services
        self.caller = caller

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a domain unit of work fn(tx, now, caller, *args) in the single writer."""
        db = self.services.db
        value: T = await db.write(fn, db.now(), self.caller, *args)
        return value

    def start_write(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """`write`, queued now; the future gets the outcome (see `Backend.start_write`)."""
        db = self.services.db
        return db.start_write(fn, db.now(), self.caller, *args)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        db = self.services.db
        value: T = await db.read(fn, db.now(), self.caller, *args)
        return value


# A request handler: `handler(ctx, msg)` for the Struct its HANDLERS entry is keyed by.
Handler = Callable[[Context, Any], Awaitable[Any]]
