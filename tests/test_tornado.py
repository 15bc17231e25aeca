"""`-k tornado` (issue 15): a tornado.web.Application served natively on the asgi worker's loop
(src/Narwhal/Tornado/narwhal_tornado.py), a WSGI callable through tornado.wsgi.WSGIContainer as
Gunicorn's TornadoWorker serves it, and WebSocketHandler over the server's WebSockets. Apps in
tests/apps/tornado/; Debian's Tornado 6.2 on Debian's python3."""

import asyncio
import json
import signal
import socket
import threading
import time

import pytest
import requests
import websockets

from conftest import APPS, BINARY, DEBIAN_PYTHON, Server, free_port, many_at_once, read_response, run_narwhal
from procs import wait_for, workers

pytest.importorskip("tornado")

TORNADO_APPS = APPS / "tornado"


def start(tmp_path, app, *args, env=None, name="server"):
    import os
    port = free_port()
    full_env = dict(os.environ)
    full_env.pop("VIRTUAL_ENV", None)
    full_env.update(env or {})
    argv = ["--python", DEBIAN_PYTHON, "-b", "127.0.0.1:%d" % port, *args, app]
    return Server(argv, TORNADO_APPS, full_env, port, tmp_path / ("%s.log" % name))


@pytest.fixture
def serve(tmp_path):
    started = []

    def go(app="tornado_app:application", *args, env=None):
        server = start(tmp_path, app, "-k", "tornado", *args, env=env, name="server-%d" % len(started))
        started.append(server)
        return server

    yield go
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def tornado(tmp_path_factory):
    """One server of tornado_app for the tests that only ask it questions (-w 1)."""
    tmp = tmp_path_factory.mktemp("tornado")
    events = tmp / "events"
    server = start(tmp, "tornado_app:application", "-k", "tornado", "-w", "1", env={"TORNADO_EVENTS": str(events)})
    server.events = events
    yield server
    server.stop()


def events(server):
    try:
        return server.events.read_text().splitlines()
    except FileNotFoundError:
        return []


def raw(server, request, head_only=False):
    with server.connect() as s:
        s.sendall(request)
        return read_response(s, head_only=head_only)


# --- HTTP -----------------------------------------------------------------------------------

def test_hello_is_answered_by_tornado(tornado):
    r = requests.get(tornado.url("/"))
    assert r.status_code == 200 and r.text == "Hello, world!\n"
    assert r.headers["Server"] == "TornadoServer/6.2"  # the handler's headers, as Tornado sets them
    assert r.headers["Content-Length"] == "14" and "ETag" in r.headers
    assert "Transfer-Encoding" not in r.headers


def test_path_and_query_arguments_and_the_request(tornado):
    r = requests.get(tornado.url("/args/bob?q=1&q=two&x=%20"))
    assert r.json() == {"name": "bob", "q": ["1", "two"], "remote_ip": "127.0.0.1", "protocol": "http",
                        "host": "127.0.0.1:%d" % tornado.port, "version": "HTTP/1.1",
                        "uri": "/args/bob?q=1&q=two&x=%20"}


def test_x_real_ip_and_x_scheme_are_not_applied(tornado):
    """Gunicorn's TornadoWorker runs HTTPServer without xheaders: X-Real-Ip and X-Scheme do not
    change remote_ip and protocol."""
    r = requests.get(tornado.url("/args/x"), headers={"X-Real-Ip": "10.9.9.9", "X-Scheme": "https"})
    assert (r.json()["remote_ip"], r.json()["protocol"]) == ("127.0.0.1", "http")


def test_x_forwarded_for_from_a_trusted_proxy_is_the_remote_ip(tornado, tmp_path):
    """remote_ip is the client the server's scope gives: the peer, or for a peer in
    --forwarded-allow-ips (127.0.0.1 by default) the last X-Forwarded-For address, as for
    every app of the asgi worker (Gunicorn's TornadoWorker always gives the peer)."""
    headers = {"X-Forwarded-For": "198.51.100.1, 203.0.113.7"}
    assert requests.get(tornado.url("/args/x"), headers=headers).json()["remote_ip"] == "203.0.113.7"
    untrusted = start(tmp_path, "tornado_app:application", "-k", "tornado", "--forwarded-allow-ips", "10.0.0.1")
    try:
        assert requests.get(untrusted.url("/args/x"), headers=headers).json()["remote_ip"] == "127.0.0.1"
    finally:
        untrusted.stop()


def test_post_body_is_request_body(tornado):
    body = bytes(range(256)) * 4096  # 1 MiB
    r = requests.post(tornado.url("/echo"), data=body)
    assert r.status_code == 200 and r.headers["X-Body-Length"] == str(len(body)) and r.content == body
    r = requests.put(tornado.url("/echo"), data={"a": "1", "b": "é"})
    assert r.json() == {"form": {"a": "1", "b": "é"}}


def test_stream_request_body_gets_each_chunk_as_it_comes(tornado):
    """@stream_request_body: data_received() per chunk as the client sends it (its future awaited),
    not the body buffered first. (64 KiB pieces: --body-buffer-size, 64 KiB, is received before
    the request starts.)"""
    with tornado.connect() as s:
        s.sendall(b"PUT /stream HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        for _ in range(5):
            s.sendall(b"10000\r\n" + b"z" * 65536 + b"\r\n")
            time.sleep(0.2)
        s.sendall(b"0\r\n\r\n")
        status, _, _, _, body = read_response(s)
    assert status == 200
    got = json.loads(body)
    assert got["size"] == 5 * 65536 and got["chunks"] >= 3, got


def test_a_body_over_set_max_body_size_is_a_400(tornado):
    """connection.set_max_body_size() in prepare(): a larger body gets HTTP1Connection's 400 and
    the connection closes; a smaller one is read."""
    assert requests.post(tornado.url("/limited"), data=b"s" * 900).text == "got 900"
    r = requests.post(tornado.url("/limited"), data=b"b" * 5000)
    assert r.status_code == 400 and r.headers.get("Connection") == "close"
    assert requests.get(tornado.url("/")).status_code == 200


def test_flush_streams_chunk_by_chunk(tornado):
    """flush(): each chunk reaches the client while the handler goes on (it sleeps 0.5 s between
    them); no Content-Length, so the server chunks the response."""
    with tornado.connect() as s:
        s.sendall(b"GET /flush HTTP/1.1\r\nHost: x\r\n\r\n")
        f = s.makefile("rb")
        began = time.monotonic()
        head = []
        while (line := f.readline()) not in (b"\r\n", b""):
            head.append(line.decode().strip().lower())
        assert "transfer-encoding: chunked" in head
        size = int(f.readline(), 16)
        first = f.read(size)
        first_at = time.monotonic() - began
        f.readline()
        rest = []
        while (size := int(f.readline(), 16)) != 0:
            rest.append(f.read(size))
            f.readline()
        total = time.monotonic() - began
    assert first == b"chunk 0\n"
    assert b"".join(rest) == b"chunk 1\nchunk 2\ndone\n"
    assert first_at < 0.4 and total >= 1.4, (first_at, total)


def test_cookies_are_set_and_read(tornado):
    r = requests.get(tornado.url("/cookies"), cookies={"seen": "yes"})
    assert r.headers["X-Seen"] == "yes"
    assert r.cookies.get("flavour") == "oatmeal" and r.cookies.get("session") == "s1"
    _, _, _, raw_headers, _ = raw(tornado, b"GET /cookies HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    cookies = [v for n, v in raw_headers if n.lower() == "set-cookie"]
    assert cookies == ["flavour=oatmeal; Path=/", "session=s1; HttpOnly; Path=/"]


def test_tornados_own_404_and_405(tornado):
    r = requests.get(tornado.url("/nowhere"))
    assert r.status_code == 404 and "404: Not Found" in r.text
    r = requests.delete(tornado.url("/"))
    assert r.status_code == 405 and "405: Method Not Allowed" in r.text
    # Tornado's access log warns about 4xx; unconfigured, Python's logging writes it to stderr.
    wait_for(lambda: "404 GET /nowhere (127.0.0.1)" in tornado.log, 5, "Tornado's access log line")


def test_exception_is_tornados_500_with_the_traceback_in_the_error_log(tornado):
    pid = workers(tornado.pid)
    r = requests.get(tornado.url("/boom"))
    assert r.status_code == 500 and "500: Internal Server Error" in r.text
    wait_for(lambda: "ZeroDivisionError: tornado handler failed on purpose" in tornado.log, 5, "the traceback")
    log = tornado.log
    assert "Uncaught exception GET /boom (127.0.0.1)" in log
    assert 'tornado_app.py", line' in log and "Traceback (most recent call last)" in log
    assert requests.get(tornado.url("/")).status_code == 200
    assert workers(tornado.pid) == pid  # the worker lives on


def test_head_has_the_length_and_no_body(tornado):
    with tornado.connect() as s:
        s.sendall(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        f = s.makefile("rb")
        head = read_response(f, head_only=True)
        get = read_response(f)
    assert head[0] == 200 and head[2]["content-length"] == "14"
    assert get[0] == 200 and get[4] == b"Hello, world!\n"  # nothing of a HEAD body came between


def test_204_and_304_have_no_body(tornado):
    with tornado.connect() as s:
        etag = requests.get(tornado.url("/")).headers["ETag"]
        s.sendall(b"GET /nocontent HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET / HTTP/1.1\r\nHost: x\r\nIf-None-Match: " + etag.encode() + b"\r\n\r\n"
                  b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        f = s.makefile("rb")
        nocontent, notmodified, hello = read_response(f), read_response(f), read_response(f)
    assert nocontent[0] == 204 and "content-length" not in nocontent[2]
    assert notmodified[0] == 304
    assert hello[0] == 200 and hello[4] == b"Hello, world!\n"


def test_a_client_leaving_mid_response_calls_on_connection_close(tornado):
    pid = workers(tornado.pid)
    with tornado.connect() as s:
        s.sendall(b"GET /leave HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b"tick 0" in s.recv(4096)
    wait_for(lambda: "on_connection_close" in events(tornado), 5, "on_connection_close")
    assert requests.get(tornado.url("/")).status_code == 200
    assert workers(tornado.pid) == pid


def test_200_concurrent_sleeping_requests_on_one_worker_finish_together(tornado):
    """Handlers run concurrently on the loop: 200 requests that each await asyncio.sleep(0.3)
    on -w 1 end together (one after the other would be 60 s)."""
    began = time.monotonic()
    statuses = asyncio.run(many_at_once(tornado.port, "/sleep?s=0.3", 200))
    elapsed = time.monotonic() - began
    assert statuses == [b"HTTP/1.1 200 OK"] * 200
    assert elapsed < 5, "200 x 0.3 s took %.1f s" % elapsed


# --- WebSocketHandler -----------------------------------------------------------------------

def test_websocket_echo_subprotocol_open_and_on_close(tornado):
    """open() (a coroutine) runs before messages; on_message() coroutines are awaited in order;
    write_message() text and binary; select_subprotocol(); a client close reaches on_close()
    with close_code."""
    async def go():
        async with websockets.connect("ws://127.0.0.1:%d/ws" % tornado.port, subprotocols=["chat.v2", "chat.v1"]) as c:
            welcome = await c.recv()
            for i in range(20):
                await c.send("m%d" % i)
            texts = [await c.recv() for _ in range(20)]
            await c.send(b"\x00\xff" * 1000)
            data = await c.recv()
            return c.subprotocol, welcome, texts, data
    subprotocol, welcome, texts, data = asyncio.run(go())
    assert subprotocol == "chat.v1" and welcome == "welcome chat.v1"
    assert texts == ["m%d" % i for i in range(20)]
    assert data == b"\x00\xff" * 1000
    wait_for(lambda: "ws closed 1000 None" in events(tornado), 5, "on_close")


def test_websocket_close_from_the_handler_has_its_code_and_reason(tornado):
    async def go():
        async with websockets.connect("ws://127.0.0.1:%d/ws" % tornado.port) as c:
            await c.recv()
            await c.send("close")
            with pytest.raises(websockets.ConnectionClosed):
                await c.recv()
            return c.close_code, c.close_reason
    assert asyncio.run(go()) == (4001, "asked")
    # close_code is the code the client answered with; close_reason stays None: the server's
    # websocket.disconnect carries no reason (see docs/tornado.md).
    wait_for(lambda: "ws closed 4001 None" in events(tornado), 5, "on_close after the handler's close")


def test_websocket_on_message_exception_is_logged_and_closes_1011(tornado):
    """An exception in on_message(): the handler's log_exception() writes the traceback, the
    socket closes with 1011 (Tornado drops the TCP connection) and on_close() runs."""
    async def go():
        async with websockets.connect("ws://127.0.0.1:%d/ws-faulty" % tornado.port) as c:
            await c.send("anything")
            with pytest.raises(websockets.ConnectionClosed):
                await c.recv()
            return c.close_code
    assert asyncio.run(go()) == 1011
    wait_for(lambda: "KeyError: 'websocket handler failed on purpose'" in tornado.log, 5, "the traceback")
    wait_for(lambda: "faulty closed" in events(tornado), 5, "on_close")


def test_websocket_check_origin_refusal_is_403(tornado):
    async def go(origin):
        try:
            async with websockets.connect("ws://127.0.0.1:%d/ws-strict" % tornado.port, origin=origin) as c:
                await c.send("same")
                return await c.recv()
        except websockets.InvalidStatusCode as e:
            return e.status_code
    assert asyncio.run(go("http://evil.example")) == 403
    assert asyncio.run(go("http://127.0.0.1:%d" % tornado.port)) == "same"


def test_websocket_handler_over_plain_http_is_tornados_400(tornado):
    r = requests.get(tornado.url("/ws"))
    assert r.status_code == 400 and 'Can "Upgrade" only to "WebSocket".' in r.text


# --- other apps, spellings, the process model -----------------------------------------------

def test_a_wsgi_callable_is_served_through_wsgicontainer(serve):
    server = serve("wsgi_app:application")
    assert requests.get(server.url("/some/where")).text == "wsgi GET /some/where "
    r = requests.post(server.url("/p"), data=b"payload")
    assert r.text == "wsgi POST /p payload" and r.headers["Server"] == "TornadoServer/6.2"


@pytest.mark.parametrize("spelling", ["tornado", "gunicorn.workers.gtornado.TornadoWorker"])
def test_worker_class_spellings(tmp_path, spelling):
    server = start(tmp_path, "tornado_app:application", "-k", spelling)
    try:
        assert requests.get(server.url("/")).headers["Server"] == "TornadoServer/6.2"
        assert "Using worker: tornado" in server.log
    finally:
        server.stop()


def test_worker_class_tornado_from_a_config_file(tmp_path):
    server = start(tmp_path, "tornado_app:application", "-c", "worker_class_tornado.conf.py")
    try:
        assert requests.get(server.url("/")).headers["Server"] == "TornadoServer/6.2"
        assert "Using worker: tornado" in server.log
    finally:
        server.stop()


def test_an_asgi_app_is_refused_at_load(tmp_path):
    r = run_narwhal("--python", DEBIAN_PYTHON, "-k", "tornado", "-b", "127.0.0.1:%d" % free_port(),
                    "not_tornado:app", cwd=TORNADO_APPS)
    assert r.returncode == 4, r.stderr
    assert "App failed to load" in r.stderr or "TypeError" in r.stderr, r.stderr
    assert "<function app at" in r.stderr and "serve it with -k asgi" in r.stderr, r.stderr


def test_graceful_term_lets_requests_in_flight_finish(serve):
    """TERM with 20 requests in flight on -w 2 (each sleeps 1 s): every one is answered 200,
    the master exits 0."""
    server = serve("tornado_app:application", "-w", "2")
    wait_for(lambda: len(workers(server.pid)) == 2, 10, "two workers")
    results = []

    def one():
        try:
            results.append(requests.get(server.url("/sleep?s=1"), timeout=20).status_code)
        except requests.RequestException as e:
            results.append(repr(e))
    threads = [threading.Thread(target=one) for _ in range(20)]
    for t in threads:
        t.start()
    time.sleep(0.4)
    server.proc.send_signal(signal.SIGTERM)
    for t in threads:
        t.join(20)
    assert results == [200] * 20
    assert server.proc.wait(15) == 0
