"""HTTP/WebSocket transport (layer L5). The only place Starlette appears."""
