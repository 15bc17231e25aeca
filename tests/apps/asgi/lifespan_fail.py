"""An app whose lifespan startup fails: `failed` sends lifespan.startup.failed with a message,
`raising` raises during startup (a failure only with --asgi-lifespan on)."""

from markers import mark


async def _serve(send):
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


async def failed(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "database unreachable at startup"})
        return
    await _serve(send)


async def raising(scope, receive, send):
    """Raises on the lifespan scope, as Django 3.2's handler does: unsupported, not broken,
    for --asgi-lifespan auto."""
    if scope["type"] == "lifespan":
        mark("lifespan-called", scope["type"])
        raise ValueError("this app only speaks http")
    await _serve(send)
