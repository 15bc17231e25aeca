"""The green workers' test app (tests/test_green.py): raw WSGI routes for sleeping, outbound
calls, streaming, files, uploads, CPU loops and errors, and the Flask app under /flask/.

It runs under -k gevent and -k eventlet (the interpreter patched before it is imported) and,
for the tests' negative checks, under the threaded worker too."""

import hashlib
import json
import os
import sys
import threading
import time
from urllib.parse import parse_qs

# The hooks test: when the module is imported, relative to the hooks' lines.
if os.environ.get("GREEN_EVENTS"):
    with open(os.environ["GREEN_EVENTS"], "a") as f:
        f.write("app_import %d\n" % os.getpid())


def library():
    """The library this interpreter was patched with: 'gevent', 'eventlet' or None."""
    gevent_monkey = sys.modules.get("gevent.monkey")
    if gevent_monkey is not None and gevent_monkey.is_module_patched("socket"):
        return "gevent"
    patcher = sys.modules.get("eventlet.patcher")
    if patcher is not None and patcher.is_monkey_patched("socket"):
        return "eventlet"
    return None


def green_sleep(seconds):
    """The library's own sleep (gevent.sleep, eventlet.sleep); time.sleep when unpatched."""
    lib = library()
    if lib == "gevent":
        import gevent
        gevent.sleep(seconds)
    elif lib == "eventlet":
        import eventlet
        eventlet.sleep(seconds)
    else:
        time.sleep(seconds)


class Gauge:
    """How many requests are inside the app at once, and the most there were."""

    def __init__(self):
        self.lock = threading.Lock()   # patched: a green lock under gevent/eventlet
        self.now = 0
        self.peak = 0

    def __enter__(self):
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)

    def __exit__(self, *exc):
        with self.lock:
            self.now -= 1

    def take(self):
        with self.lock:
            peak, self.peak = self.peak, self.now
            return peak


gauge = Gauge()


def reply(start_response, body, status="200 OK", ctype="text/plain"):
    if isinstance(body, str):
        body = body.encode()
    start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(body)))])
    return [body]


def spin_forever():
    while True:
        pass


def stream(n, gap):
    for i in range(n):
        if i:
            green_sleep(gap)
        yield ("chunk %d produced at %.6f\n" % (i, time.time())).encode()


class Big:
    """n chunks of 64 KiB (chunk i is bytes of i % 251); counts how it ended in `ended`."""

    ended = {"closed": 0, "finished": 0}

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        for i in range(self.n):
            yield bytes([i % 251]) * 65536
        Big.ended["finished"] += 1

    def close(self):
        Big.ended["closed"] += 1


def upload_digest(stream_in, length):
    """Reads the body in pieces: 64 KiB reads, with a readline() every few reads; to its end
    when there is no Content-Length (a chunked body)."""
    digest = hashlib.sha256()
    got = reads = lines = 0
    while length is None or got < length:
        size = 65536 if length is None else min(65536, length - got)
        data = stream_in.readline(size) if reads % 4 == 3 else stream_in.read(size)
        lines += reads % 4 == 3
        reads += 1
        if not data:
            break
        digest.update(data)
        got += len(data)
    return {"size": got, "sha256": digest.hexdigest(), "reads": reads, "readlines": lines}


def app(environ, start_response):
    path = environ["PATH_INFO"]
    query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    if path.startswith("/flask/"):
        environ["SCRIPT_NAME"] = "/flask"
        environ["PATH_INFO"] = path[len("/flask"):]
        import flaskgreen  # here, not at the top: the worker boots faster (--timeout covers the boot)
        return flaskgreen.app(environ, start_response)
    if path == "/pid":
        return reply(start_response, "pid=%d" % os.getpid())
    if path == "/library":
        return reply(start_response, "%s %s" % (library(), environ["wsgi.multithread"]))
    if path == "/sleep":
        # how=time: the patched time.sleep; how=green: gevent.sleep / eventlet.sleep.
        seconds = float(query.get("s", "0.3"))
        with gauge:
            (time.sleep if query.get("how", "time") == "time" else green_sleep)(seconds)
        return reply(start_response, "slept %s" % seconds)
    if path == "/peak":
        return reply(start_response, str(gauge.take()))
    if path == "/fetch":
        import requests
        r = requests.get(query["url"], timeout=30)
        return reply(start_response, "upstream said %s" % r.text)
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return stream(int(query.get("n", "4")), float(query.get("gap", "0.3")))
    if path == "/file":
        f = open(query["path"], "rb")
        size = os.fstat(f.fileno()).st_size
        start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(size))])
        return environ["wsgi.file_wrapper"](f, 65536)
    if path == "/big":
        n = int(query.get("n", "160"))
        start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(n * 65536))])
        return Big(n)
    if path == "/big-ended":
        return reply(start_response, json.dumps(Big.ended), ctype="application/json")
    if path == "/upload":
        length = int(environ["CONTENT_LENGTH"]) if environ.get("CONTENT_LENGTH") else None
        started = time.monotonic()
        info = upload_digest(environ["wsgi.input"], length)
        info["seconds"] = time.monotonic() - started
        return reply(start_response, json.dumps(info), ctype="application/json")
    if path == "/spin":
        spin_forever()
    if path == "/raise":
        raise RuntimeError("greenapp was asked to fail")
    return reply(start_response, "hello")
