"""The TLS context of every client connection (layer L0): the API client, the pubsub
WebSocket and the embedded object store all verify the server the same way."""
from __future__ import annotations

import ssl


def client_context(verify: bool = True) -> ssl.SSLContext:
    """The system's default trust store; `verify=False` (--skip-tls-verify) accepts any certificate."""
    ctx = ssl.create_default_context()
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx
