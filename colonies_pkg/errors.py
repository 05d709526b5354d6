"""The one exception hierarchy. Each class carries the HTTP status the server replies with.

ColoniesError (500)
 ├── BadRequest (400)
 ├── Forbidden (403)
 ├── NotFound (404)
 ├── Conflict (409)
 ├── Timeout (408)
 ├── Unavailable (503)
 ├── TooLarge (413)
 └── TooManyRequests (429)

Imports nothing from the package. The server maps these to the ColonyOS error envelope in
exactly one place (`colonies_pkg.rpc.envelope.error_reply`).
"""
from __future__ import annotations


class ColoniesError(Exception):
    """Internal server error"""

    status: int = 500

    def __init__(self, message: str | None = None) -> None:
        self.message = message if message is not None else (self.__doc__ or "error")
        super().__init__(self.message)


class BadRequest(ColoniesError):
    """Bad request"""

    status = 400


class Forbidden(ColoniesError):
    """Access denied"""

    status = 403


class NotFound(ColoniesError):
    """Not found"""

    status = 404


class Conflict(ColoniesError):
    """Conflict"""

    status = 409


class Timeout(ColoniesError):
    """Request timed out"""

    status = 408


class Unavailable(ColoniesError):
    """Service unavailable"""

    status = 503


class TooLarge(ColoniesError):
    """Request entity too large: a size or count limit would be exceeded"""

    status = 413


class TooManyRequests(ColoniesError):
    """Too many requests: a rate limit was exceeded"""

    status = 429
