"""A raw ASGI 3 app (no framework) for the HTTP, lifespan and process-model tests.

Routes: /scope/... (the scope as JSON), /upload (streams the body, reports its messages),
/stream, /length, /nolength, /raise-before, /raise-after, /no-response, /sleep?s=,
/block?s= (a blocking call on the loop), /pid, /loop, /wait-disconnect, /send-after-disconnect,
/ignore-disconnect, /started; WebSockets go to asgi_ws's routes. Lifespan: writes "startup"/"shutdown" markers and puts a
value and a shared list into the lifespan state.
"""

import asyncio
import hashlib
import json
import os
import time
from urllib.parse import parse_qs

from markers import mark

started = False


def query(scope):
    return {k: v[0] for k, v in parse_qs(scope["query_string"].decode("latin-1")).items()}


def describe(scope):
    """The scope as JSON-able values, with the types of the byte fields kept visible."""
    out = {}
    for key, value in scope.items():
        if key == "headers":
            text = lambda b: b.decode("latin-1") if isinstance(b, bytes) else b
            out[key] = [[text(n), text(v)] for n, v in value]
            out["headers_are_bytes"] = all(isinstance(n, bytes) and isinstance(v, bytes) for n, v in value)
        elif key in ("raw_path", "query_string"):
            out[key] = value.decode("latin-1") if isinstance(value, bytes) else value
            out[key + "_type"] = type(value).__name__
        elif key in ("client", "server"):
            out[key] = None if value is None else list(value)
        elif key == "state":
            out[key] = {k: v for k, v in value.items() if isinstance(v, (str, int, list))}
        elif key == "extensions":
            out[key] = sorted(value or {})
        elif isinstance(value, (str, int, float, bool, list, dict, type(None))):
            out[key] = value
        else:
            out[key] = repr(value)
    return out


async def send_simple(send, status, body, content_type=b"text/plain"):
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def read_body(receive):
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def lifespan(scope, receive, send):
    global started
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await asyncio.sleep(0.3)  # a request arriving now must wait for startup's end
            if "state" in scope:
                scope["state"]["token"] = "from-startup"
                scope["state"]["shared"] = []
            started = True
            mark("startup", os.getpid())
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            mark("shutdown", os.getpid())
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(scope, receive, send)
    if scope["type"] == "websocket":  # asgi_ws's routes, so one process serves both kinds
        from asgi_ws import app as websocket_app
        return await websocket_app(scope, receive, send)
    path = scope["path"]
    q = query(scope)

    if path.startswith("/scope"):
        described = describe(scope)  # before this request changes its state
        if "state" in scope:
            # The request's state is a shallow copy: this key must not reach the next request,
            # the list (the same object) is shared.
            scope["state"]["request_only"] = path
            scope["state"].setdefault("shared", []).append(path)
            described["state"]["shared"] = list(scope["state"]["shared"])
        await read_body(receive)
        return await send_simple(send, 200, json.dumps(described).encode(), b"application/json")

    if path == "/upload":
        digest, size, messages, largest, flags = hashlib.sha256(), 0, 0, 0, []
        while True:
            message = await receive()
            assert message["type"] == "http.request", message["type"]
            body = message.get("body", b"")
            digest.update(body)
            size += len(body)
            largest = max(largest, len(body))
            messages += 1
            flags.append(bool(message.get("more_body", False)))
            if not message.get("more_body"):
                break
        report = {"size": size, "sha256": digest.hexdigest(), "messages": messages, "largest": largest,
                  "more_body_then_final": all(flags[:-1]) and not flags[-1]}
        return await send_simple(send, 200, json.dumps(report).encode(), b"application/json")

    if path == "/head-first":
        # The head, then a long wait before the first body (server-sent events do this).
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        await asyncio.sleep(float(q.get("delay", 1.5)))
        return await send({"type": "http.response.body", "body": b"data: late\n\n"})

    if path == "/stream":
        n, delay = int(q.get("n", 3)), float(q.get("delay", 0.2))
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        for i in range(n):
            await send({"type": "http.response.body", "body": b"chunk %d\n" % i, "more_body": True})
            await asyncio.sleep(delay)
        return await send({"type": "http.response.body", "body": b"", "more_body": False})

    if path == "/length":
        # Content-Length given: the body goes out in two sends, not chunked.
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain"), (b"content-length", b"10")]})
        await send({"type": "http.response.body", "body": b"hello", "more_body": True})
        return await send({"type": "http.response.body", "body": b"world"})

    if path == "/nolength":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"no length", "more_body": True})
        return await send({"type": "http.response.body", "body": b"!"})

    if path == "/raise-before":
        raise RuntimeError("boom-before")

    if path == "/raise-after":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        await asyncio.sleep(0.05)
        raise RuntimeError("boom-after")

    if path == "/no-response":
        return

    if path == "/sleep":
        await asyncio.sleep(float(q.get("s", 0.3)))
        return await send_simple(send, 200, b"slept pid=%d" % os.getpid())

    if path == "/block":
        time.sleep(float(q.get("s", 30)))  # blocks the event loop: what --timeout is for
        return await send_simple(send, 200, b"unblocked")

    if path == "/pid":
        return await send_simple(send, 200, b"pid=%d" % os.getpid())

    if path == "/started":
        return await send_simple(send, 200, b"started=%s" % str(started).encode())

    if path == "/loop":
        loop = type(asyncio.get_running_loop())
        return await send_simple(send, 200, ("%s.%s" % (loop.__module__, loop.__name__)).encode())

    if path == "/wait-disconnect":
        await read_body(receive)
        message = await receive()  # nothing more to read: the next message is the client leaving
        mark("disconnect", message["type"])
        return

    if path == "/send-after-disconnect":
        await read_body(receive)
        message = await receive()
        try:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"late"})
            mark("late-send", "no error")
        except OSError as e:
            mark("late-send", "OSError %s" % type(e).__name__)
        except Exception as e:  # noqa: BLE001  (what the test reports as wrong)
            mark("late-send", "other %s" % type(e).__name__)
        return

    if path == "/ignore-disconnect":
        # Never reads: only the disconnect grace period can stop it.
        try:
            await asyncio.sleep(30)
            mark("ignored", "finished")
        except asyncio.CancelledError:
            mark("ignored", "cancelled")
            raise
        return

    await send_simple(send, 404, b"not found")
