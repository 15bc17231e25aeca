"""`-k asgi` WebSockets (issue 14; ASGI WebSocket spec 2.4) with the websockets 10.4 client,
and a raw-socket client for what a library will not send. Close codes as uvicorn gives them."""

import asyncio
import json
import logging
import ssl
import time

import pytest
import websockets

# Fixtures are imported with the module's helpers (asgi_serve needs markers beside it).
from asgi_target import (REFERENCE, RawWebSocket, asgi_serve, markers, module_markers, module_serve,  # noqa: F401
                         read_marker, run)
from test_tls import pki  # noqa: F401  (the certificates fixture)


@pytest.fixture(scope="module")
def ws(module_serve):
    """One WebSocket-app server for the tests with default settings."""
    return module_serve("asgi_ws:app")


def test_accept_with_the_apps_subprotocol_and_extra_headers(ws):
    """websocket.accept: the upgrade happens on accept, with the subprotocol the app chose among
    those offered (not simply the first) and the app's extra response headers."""
    async def go():
        async with websockets.connect(ws.ws_url("/echo"), subprotocols=["chat.v2", "chat.v1"]) as c:
            return c.subprotocol, c.response_headers.get("x-extra")
    assert run(go()) == ("chat.v1", "yes")


def test_websocket_scope(ws):
    """WebSocket scope: type "websocket", asgi version, http_version, scheme "ws", path,
    raw_path, query_string bytes, headers lower-cased bytes, subprotocols as offered, client."""
    async def go():
        async with websockets.connect(ws.ws_url("/scope?room=5"), subprotocols=["a", "b"],
                                      extra_headers=[("X-Trace", "T1")]) as c:
            return json.loads(await c.recv())
    scope = run(go())
    assert scope["type"] == "websocket"
    assert scope["asgi"]["version"] == "3.0"
    assert scope["http_version"] == "1.1"
    assert scope["scheme"] == "ws"
    assert scope["path"] == "/scope"
    assert scope["query_string"] == "room=5" and scope["query_string_type"] == "bytes"
    assert scope["subprotocols"] == ["a", "b"]
    assert scope["headers_are_bytes"] is True
    assert ["x-trace", "T1"] in [[n.lower(), v] for n, v in scope["headers"]]
    if not REFERENCE:
        # uvicorn 0.17.6 (websockets implementation) gives raw_path as str and keeps the
        # client's header case: both against the spec (bytes; lower-cased names).
        assert (scope["raw_path"], scope["raw_path_type"]) == ("/scope", "bytes")
        assert all(name == name.lower() for name, _ in scope["headers"])
    assert scope["client"][0] == "127.0.0.1"


def test_close_before_accept_is_http_403(ws):
    """websocket.close before websocket.accept: the handshake is answered HTTP 403."""
    async def go():
        try:
            async with websockets.connect(ws.ws_url("/reject")):
                return "accepted"
        except websockets.InvalidStatusCode as e:
            return e.status_code
    assert run(go()) == 403


def test_text_and_binary_echo(ws):
    """websocket.receive/send: text frames as `text` (str), binary frames as `bytes`."""
    async def go():
        async with websockets.connect(ws.ws_url("/echo")) as c:
            await c.send("héllo ✓")
            text = await c.recv()
            await c.send(b"\x00\xff" * 1000)
            data = await c.recv()
            big = "x" * 200000
            await c.send(big)
            return text, data, (await c.recv()) == big
    assert run(go()) == ("héllo ✓", b"\x00\xff" * 1000, True)


def test_client_close_code_reaches_the_app(ws, module_markers):
    """websocket.disconnect carries the client's close code."""
    async def go():
        async with websockets.connect(ws.ws_url("/echo?code")) as c:
            await c.close(code=4321, reason="bye")
    run(go())
    assert read_marker(module_markers, "ws-disconnect-code") == ["4321"]


def test_close_frame_without_a_code_is_1005(ws, module_markers):
    """A close frame with no status code: websocket.disconnect code 1005 (as uvicorn). Narwhal
    reports 1000: .NET's WebSocket reads a close without a code as NormalClosure (the spec's
    'should', documented in the README), and answers it with a close frame all the same."""
    c = RawWebSocket(ws.port, "/echo?empty")
    assert c.status == 101
    c.send_frame(0x8, b"")
    try:
        opcode, _ = c.read_frame()  # the server's close answer
        assert opcode == 0x8
    except EOFError:
        pass
    c.close()
    assert read_marker(module_markers, "ws-disconnect-empty") == (["1005"] if REFERENCE else ["1000"])


def test_dropped_connection_is_1006(ws, module_markers):
    """The TCP connection dropped without a close frame: websocket.disconnect code 1006."""
    c = RawWebSocket(ws.port, "/echo?dropped")
    assert c.status == 101
    c.close()
    assert read_marker(module_markers, "ws-disconnect-dropped") == ["1006"]


def test_server_close_with_code_and_reason(ws):
    """websocket.close after accept: the client gets the app's code and reason."""
    async def go():
        async with websockets.connect(ws.ws_url("/server-close")) as c:
            await c.wait_closed()
            return c.close_code, c.close_reason
    assert run(go()) == (4001, "done")


def test_server_close_ends_the_tcp_connection_after_the_clients_reply(ws):
    """websocket.close, the client answers with its close frame and keeps the TCP connection:
    the server closes it (RFC 6455 7.1.1), with a FIN, not leaving it open."""
    c = RawWebSocket(ws.port, "/server-close")
    c.sock.settimeout(5)
    opcode, payload = c.read_frame()
    assert opcode == 0x8 and payload[:2] == (4001).to_bytes(2, "big")
    c.send_frame(0x8, payload[:2])
    began = time.monotonic()
    with pytest.raises(EOFError):  # a reset or a timeout would be another exception
        c.read_frame()
    assert time.monotonic() - began < 2
    c.close()


def test_app_raising_after_accept_closes_the_socket_and_the_worker_lives(ws):
    """An exception after accept: the connection ends (1011 or dropped: 1006, as uvicorn), the
    traceback is logged, the worker serves the next connection."""
    async def go():
        async with websockets.connect(ws.ws_url("/raise")) as c:
            await c.wait_closed()
            code = c.close_code
        async with websockets.connect(ws.ws_url("/echo")) as c:
            await c.send("still here")
            return code, await c.recv()
    code, echoed = run(go())
    assert code in (1011, 1006) and echoed == "still here"
    assert "RuntimeError: ws boom" in ws.log


def test_message_over_ws_max_size_closes_with_1009(asgi_serve):
    """--ws-max-size: a message within the limit passes, a larger one closes the connection
    with 1009 (message too big)."""
    server = asgi_serve("asgi_ws:app", "--ws-max-size", "1024")

    async def go():
        async with websockets.connect(server.ws_url("/echo"), max_size=None) as c:
            await c.send("a" * 1024)
            fits = await c.recv()
            await c.send("b" * 2000)
            try:
                await c.recv()
            except websockets.ConnectionClosed:
                pass
            return len(fits), c.close_code
    assert run(go()) == (1024, 1009)


def test_client_ping_gets_a_pong(ws):
    """Ping/pong: the server answers the client's ping."""
    async def go():
        async with websockets.connect(ws.ws_url("/echo"), ping_interval=None) as c:
            waiter = await c.ping(b"are you there")
            await asyncio.wait_for(waiter, 5)
            return True
    assert run(go())


def test_server_pings_and_drops_a_client_that_never_answers(asgi_serve):
    """--ws-ping-interval/--ws-ping-timeout: the server pings at the interval and closes a
    connection whose pong does not come within the timeout."""
    server = asgi_serve("asgi_ws:app", "--ws-ping-interval", "0.3", "--ws-ping-timeout", "0.5")
    c = RawWebSocket(server.port, "/idle")
    assert c.status == 101
    began = time.monotonic()
    opcodes = []
    try:
        while time.monotonic() - began < 8:
            opcode, _ = c.read_frame()
            opcodes.append(opcode)
            if opcode == 0x8:
                break
    except (EOFError, ConnectionError):
        opcodes.append("eof")
    c.close()
    assert opcodes[0] == 0x9, opcodes  # a ping came first
    assert opcodes[-1] in (0x8, "eof"), opcodes  # then the server gave up on us
    assert time.monotonic() - began < 5


def test_ping_interval_zero_sends_no_pings(asgi_serve):
    """--ws-ping-interval 0: no server pings."""
    server = asgi_serve("asgi_ws:app", "--ws-ping-interval", "0")
    c = RawWebSocket(server.port, "/echo")
    c.sock.settimeout(1.5)
    try:
        got = c.read_frame()
    except OSError:  # the timeout: nothing came
        got = None
    c.close()
    assert got is None


def test_pongs_answered_keep_the_connection(asgi_serve):
    """A client that answers the server's pings (websockets does) stays connected past several
    ping intervals."""
    server = asgi_serve("asgi_ws:app", "--ws-ping-interval", "0.2", "--ws-ping-timeout", "0.5")
    records = []

    class Pings(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    logger = logging.getLogger("ws-pings")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(Pings())

    async def go():
        async with websockets.connect(server.ws_url("/echo"), ping_interval=None, logger=logger) as c:
            await asyncio.sleep(1.2)
            await c.send("alive")
            return await c.recv()
    assert run(go()) == "alive"
    assert sum(1 for m in records if m.startswith("< PING")) >= 3, records


def test_wss_scheme_over_tls(asgi_serve, pki):
    """WebSocket scope `scheme` "wss" over TLS."""
    server = asgi_serve("asgi_ws:app", "--certfile", str(pki / "server.pem"), "--keyfile", str(pki / "server.key"),
                        ready="log")
    context = ssl.create_default_context(cafile=str(pki / "ca.pem"))

    async def go():
        for _ in range(100):  # until the worker listens
            try:
                async with websockets.connect("wss://127.0.0.1:%d/scope" % server.port, ssl=context) as c:
                    return json.loads(await c.recv())["scheme"]
            except OSError:
                await asyncio.sleep(0.2)
    assert run(go()) == "wss"


def test_default_ws_max_size_is_16_mib(asgi_serve):
    """--ws-max-size defaults to 16 MiB (16777216, as uvicorn): a message of exactly that size
    is echoed, one byte more closes with 1009."""
    server = asgi_serve("asgi_ws:app")
    limit = 16 * 1024 * 1024

    async def go():
        async with websockets.connect(server.ws_url("/echo"), max_size=None) as c:
            await c.send(b"m" * limit)
            echoed = len(await c.recv())
            await c.send(b"m" * (limit + 1))
            try:
                await c.recv()
            except websockets.ConnectionClosed:
                pass
            return echoed, c.close_code
    assert run(go(), timeout=60) == (limit, 1009)
