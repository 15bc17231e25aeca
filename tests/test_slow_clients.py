"""Slow clients cannot pin workers (Narwhal's header_timeout, body_min_rate,
body_buffer_size and worker_connections): a slow head or body waits on Kestrel's I/O
threads, never on a Python thread, and is cut off past its limit; a worker at
worker_connections answers new connections with a clean 503."""

import socket
import threading
import time

from conftest import read_response


def timed_get(server, path="/"):
    start = time.monotonic()
    s = server.connect(timeout=15)
    s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path.encode())
    status = read_response(s)[0]
    s.close()
    return status, time.monotonic() - start


def test_slow_head_gets_408_and_never_holds_the_python_thread(serve):
    server = serve("logapp:app", "--threads", "1", "--header-timeout", "2")
    slow = server.connect(timeout=15)
    slow.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
    start = time.monotonic()
    # Dozens more slowloris connections, each with half a head.
    others = [server.connect() for _ in range(40)]
    for s in others:
        s.sendall(b"GET / HTTP/1.1\r\nX-Slow: ")
    # Meanwhile the one Python thread serves everyone else at once.
    for _ in range(5):
        status, took = timed_get(server)
        assert status == 200 and took < 1.0
        slow.sendall(b"X-A: 1\r\n")  # trickling header lines does not reset the head timeout
        time.sleep(0.2)
    status, _, headers, _, _ = read_response(slow)
    waited = time.monotonic() - start
    assert status == 408 and headers.get("connection") == "close"
    assert 1.5 < waited < 6, waited
    for s in others:
        s.close()


def test_header_timeout_zero_waits_for_the_client(serve):
    server = serve("logapp:app", "--header-timeout", "0", "--keep-alive", "30")
    s = server.connect(timeout=15)
    s.sendall(b"GET / HTTP/1.1\r\n")
    time.sleep(3)
    s.sendall(b"Host: x\r\n\r\n")
    assert read_response(s)[0] == 200


def test_body_slower_than_min_rate_is_cut_off(serve):
    server = serve("logapp:app", "--body-min-rate", "2000", "--body-buffer-size", "0")
    s = server.connect(timeout=20)
    s.sendall(b"POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
    start = time.monotonic()
    got = None
    try:
        while time.monotonic() - start < 15:
            s.sendall(b"x" * 100)  # 500 bytes/s: under the 2000 asked for
            time.sleep(0.2)
            s.setblocking(False)
            try:
                got = s.recv(65536)
            except BlockingIOError:
                got = None
            finally:
                s.setblocking(True)
            if got is not None:
                break
    except (BrokenPipeError, ConnectionResetError):
        got = b""
    elapsed = time.monotonic() - start
    # Cut off after the 5 s grace: a 408 (or the connection closed), never the app's answer.
    assert got is not None and b"200 OK" not in got, got
    assert got == b"" or got.startswith(b"HTTP/1.1 408") or got.startswith(b"HTTP/1.1 500"), got
    assert 4 < elapsed < 12, elapsed


def slow_post(server, results, body=b"y" * 1000, pieces=10, pause=0.3):
    s = server.connect(timeout=20)
    s.sendall(b"POST /read HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(body))
    step = len(body) // pieces
    for i in range(pieces):
        s.sendall(body[i * step:(i + 1) * step])
        time.sleep(pause)
    status, _, _, _, answer = read_response(s)
    results.append((status, answer))


def test_small_body_is_received_before_it_takes_a_python_thread(serve):
    server = serve("logapp:app", "--threads", "1")
    results = []
    t = threading.Thread(target=slow_post, args=(server, results))
    t.start()
    time.sleep(0.5)
    # The upload takes 3 s; the single Python thread stays free for others all along.
    for _ in range(5):
        status, took = timed_get(server)
        assert status == 200 and took < 1.0, took
        time.sleep(0.2)
    t.join()
    assert results == [(200, b"1000")]


def test_without_buffering_a_slow_body_holds_the_thread(serve):
    """The contrast that shows body_buffer_size at work (Gunicorn's behaviour)."""
    server = serve("logapp:app", "--threads", "1", "--body-buffer-size", "0")
    results = []
    t = threading.Thread(target=slow_post, args=(server, results))
    t.start()
    time.sleep(0.8)
    status, took = timed_get(server)
    t.join()
    assert status == 200 and took > 1.0, took
    assert results == [(200, b"1000")]


def test_worker_connections_answers_503_past_the_limit(serve):
    server = serve("logapp:app", "--worker-connections", "3", "--keep-alive", "30")
    held = []
    for _ in range(3):
        s = server.connect()
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(s)[0] == 200
        held.append(s)
    extra = server.connect()
    extra.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    status, _, headers, _, _ = read_response(extra)
    assert status == 503 and headers["connection"] == "close"
    assert "worker_connections (3) reached" in server.log
    # A held connection keeps working, and once one closes there is room again.
    held[0].sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert read_response(held[0])[0] == 200
    held.pop().close()
    deadline = time.monotonic() + 5
    while True:
        status, _ = timed_get(server)
        if status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert status == 200
