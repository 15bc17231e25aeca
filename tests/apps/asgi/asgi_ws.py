"""A raw ASGI WebSocket app. Paths: /echo (accepts, choosing "chat.v1" among the offered
subprotocols and adding an extra header; echoes text and binary; the disconnect code goes to
the "ws-disconnect[-QUERY]" marker), /reject (closes before accept), /server-close (closes with
4001 "done"), /scope (sends its scope as JSON text), /raise (raises after accept),
/idle (accepts and waits for the client to leave)."""

import json

from asgi_raw import describe
from markers import mark


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        message = await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        mark("shutdown", "ws")
        return await send({"type": "lifespan.shutdown.complete"})
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"4")]})
        return await send({"type": "http.response.body", "body": b"http"})

    path = scope["path"]
    message = await receive()
    assert message["type"] == "websocket.connect", message

    if path == "/reject":
        return await send({"type": "websocket.close", "code": 1000})

    accept = {"type": "websocket.accept", "headers": [(b"x-extra", b"yes")]}
    if "chat.v1" in scope.get("subprotocols", []):
        accept["subprotocol"] = "chat.v1"
    await send(accept)

    if path == "/scope":
        await send({"type": "websocket.send", "text": json.dumps(describe(scope))})
    elif path == "/server-close":
        return await send({"type": "websocket.close", "code": 4001, "reason": "done"})
    elif path == "/raise":
        raise RuntimeError("ws boom")

    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            tag = scope["query_string"].decode()  # tests sharing a server tell their marks apart
            mark("ws-disconnect" + ("-" + tag if tag else ""), message.get("code"))
            return
        if path == "/echo":
            if message.get("text") is not None:
                await send({"type": "websocket.send", "text": message["text"]})
            else:
                await send({"type": "websocket.send", "bytes": message["bytes"]})
