"""An app whose memory grows on demand, for --max-worker-rss: each /grow keeps 20 MiB more
(written, so resident) for the life of the worker. Every answer names the worker's PID."""

import os

KEPT = []


def app(environ, start_response):
    if environ["PATH_INFO"] == "/grow":
        KEPT.append(b"x" * (20 << 20))
    body = ("pid=%d kept=%d" % (os.getpid(), len(KEPT))).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
