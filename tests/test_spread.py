"""Connections spread evenly across workers (issue 13): a burst of keep-alive connections
opened at once does not pile onto the worker whose accept thread woke first."""

import socket
from pathlib import Path

import pytest

from asgi_target import REFERENCE, asgi_serve, markers  # noqa: F401
from conftest import DEBIAN_PYTHON, read_response
from procs import wait_for, workers

CONNECTIONS = 32


def accepting(pid):
    """True once the worker runs its accept threads (Kestrel has started on its sockets)."""
    try:
        return any((t / "comm").read_text().strip() == "accept" for t in Path("/proc/%d/task" % pid).iterdir())
    except OSError:
        return False


def burst_split(port, path):
    """Opens CONNECTIONS keep-alive connections at once, then one request on each; returns
    how many each worker PID answered (the app answers "pid=N")."""
    socks = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(CONNECTIONS)]
    try:
        for s in socks:
            s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode())
        split = {}
        for s in socks:
            status, _, _, _, body = read_response(s)
            assert status == 200
            pid = int(body.decode().split("=")[1].split()[0])
            split[pid] = split.get(pid, 0) + 1
        return split
    finally:
        for s in socks:
            s.close()


def assert_even(split, pids):
    mean = CONNECTIONS / len(pids)
    counts = [split.get(p, 0) for p in pids]
    assert set(split) <= set(pids)
    assert all(abs(c - mean) <= 0.25 * mean for c in counts), "split %s, mean %s" % (counts, mean)


@pytest.mark.parametrize("kind", ["sync", "gevent"])
def test_a_burst_of_keepalive_connections_spreads_evenly(serve, kind):
    args = ["-w", "2"] + (["-k", "gevent"] if kind == "gevent" else [])
    server = serve("procmodel:app", *args, python=DEBIAN_PYTHON)
    wait_for(lambda: len(workers(server.pid)) == 2 and all(accepting(p) for p in workers(server.pid)), 30,
             "2 workers accepting")
    assert_even(burst_split(server.port, "/"), workers(server.pid))


@pytest.mark.skipif(REFERENCE, reason="Narwhal's spread: uvicorn's workers take what each wakes for")
def test_a_burst_of_keepalive_connections_spreads_evenly_over_asgi_workers(asgi_serve):
    server = asgi_serve("asgi_raw:app", "-w", "2")
    wait_for(lambda: len(server.workers()) == 2 and all(accepting(p) for p in server.workers()), 30,
             "2 workers accepting")
    assert_even(burst_split(server.port, "/pid"), server.workers())
