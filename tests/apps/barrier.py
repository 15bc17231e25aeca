"""Answers only when two requests are in the app at once: proves a worker runs two threads."""

import threading

_both_in = threading.Barrier(2, timeout=20)


def app(environ, start_response):
    try:
        _both_in.wait()
        body = b"together"
    except threading.BrokenBarrierError:
        body = b"alone"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
