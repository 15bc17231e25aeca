"""Apps that exercise every PEP 3333 feature. Most are wrapped in wsgiref.validate's
validator, which asserts the server side of the spec on every call."""

import hashlib
import json
import os
import sys
import threading
import time
from wsgiref.validate import validator

CLOSE_MARKER = os.environ.get("NARWHAL_TEST_CLOSE_MARKER", "/tmp/narwhal-close-marker")


def _json(start_response, doc, status="200 OK"):
    body = json.dumps(doc).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def environ_app(environ, start_response):
    doc = {}
    for k, v in environ.items():
        if isinstance(v, (str, bool, int)) or v is None:
            doc[k] = v
        elif isinstance(v, tuple):
            doc[k] = list(v)
        else:
            doc[k] = "<%s>" % type(v).__name__
    doc["has_file_wrapper"] = callable(environ.get("wsgi.file_wrapper"))
    environ["wsgi.errors"].write("environ app wrote to wsgi.errors\n")
    environ["wsgi.errors"].flush()
    return _json(start_response, doc)


def input_app(environ, start_response):
    """Reads the body with the method the query names."""
    inp = environ["wsgi.input"]
    how = environ["QUERY_STRING"]
    if how == "read":
        data = inp.read(int(environ.get("CONTENT_LENGTH") or 0))
        parts = [data]
    elif how == "read-n":
        parts = []
        while True:
            chunk = inp.read(7)
            if not chunk:
                break
            parts.append(chunk)
    elif how == "readline":
        parts = []
        while True:
            line = inp.readline()
            if not line:
                break
            parts.append(line)
    elif how == "readline-n":
        parts = []
        while True:
            line = inp.readline(5)
            if not line:
                break
            parts.append(line)
    elif how == "readlines":
        parts = inp.readlines()
    else:  # iterate
        parts = [line for line in inp]
    return _json(start_response, {"parts": [p.decode("latin-1") for p in parts]})


def read_all_app(environ, start_response):
    # read() without a size: the validator forbids it, so this one is not wrapped.
    data = environ["wsgi.input"].read()
    return _json(start_response, {"len": len(data), "body": data.decode("latin-1")})


def upload_app(environ, start_response):
    inp = environ["wsgi.input"]
    h = hashlib.sha256()
    n = 0
    while True:
        chunk = inp.read(1 << 20)
        if not chunk:
            break
        h.update(chunk)
        n += len(chunk)
    return _json(start_response, {"bytes": n, "sha256": h.hexdigest()})


def announced_upload_app(environ, start_response):
    """upload_app that first creates the file the query names: a client that finds it there
    when the 100 Continue arrives knows the 100 came from the app's read, not before the app ran."""
    with open(environ["QUERY_STRING"], "w") as f:
        f.write("called")
    return upload_app(environ, start_response)


def refuse_app(environ, start_response):
    """Refuses the upload without reading wsgi.input (a client sending Expect: 100-continue
    must then get the 413 without a 100 Continue before it)."""
    body = b"too large"
    start_response("413 Request Entity Too Large", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def stream_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/event-stream")])

    def events():
        for i in range(3):
            yield ("data: %d\n\n" % i).encode()
            time.sleep(0.5)
    return events()


class LateStart:
    """start_response is called inside the first iteration, as PEP 3333 allows."""

    def __init__(self, environ, start_response):
        self.start_response = start_response

    def __iter__(self):
        self.start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"late "
        yield b""
        yield b"start"


def write_app(environ, start_response):
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"via write(), ")
    return [b"then the iterable"]


def raise_app(environ, start_response):
    raise RuntimeError("boom before headers")


def raise_after_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])

    def body():
        yield b"partial"
        raise RuntimeError("boom after headers")
    return body()


def exc_info_app(environ, start_response):
    try:
        raise ValueError("handled")
    except ValueError:
        start_response("200 OK", [("Content-Type", "text/plain")])
        start_response("503 Service Unavailable", [("Content-Type", "text/plain")], sys.exc_info())
    return [b"replaced by the error page"]


def short_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "10")])
    return [b"12345"]


def long_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"12345", b"6789"]


def bad_header_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Evil", "a\r\nSet-Cookie: x=1")])
    return [b"never"]


def file_app(environ, start_response):
    path = environ["QUERY_STRING"] or __file__
    f = open(path, "rb")
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return environ["wsgi.file_wrapper"](f, 8192)


def big_app(environ, start_response):
    mib = int(environ["QUERY_STRING"] or "1")
    block = b"x" * (1 << 20)
    start_response("200 OK", [("Content-Type", "application/octet-stream"),
                              ("Content-Length", str(mib << 20))])

    def body():
        for _ in range(mib):
            yield block
    return body()


_produced = [0]


def counted_app(environ, start_response):
    """Up to 1 GiB in 1 MiB blocks (or as many bytes as the query says), counting what the
    server has taken from the generator."""
    block = b"z" * int(environ["QUERY_STRING"] or 1 << 20)
    start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(1 << 30))])
    _produced[0] = 0

    def body():
        for _ in range((1 << 30) // len(block)):
            _produced[0] += len(block)
            yield block
    return body()


def produced_app(environ, start_response):
    return _json(start_response, {"bytes": _produced[0]})


class Endless:
    """Streams until the client goes away; records that close() was called."""

    def __init__(self, environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        self.marker = environ["QUERY_STRING"] or CLOSE_MARKER

    def __iter__(self):
        for _ in range(100000):
            yield b"y" * 65536
            time.sleep(0.001)

    def close(self):
        with open(self.marker, "w") as f:
            f.write("closed")


_ticks = []


def _ticker():
    while True:
        _ticks.append(time.monotonic())
        time.sleep(0.05)


threading.Thread(target=_ticker, daemon=True).start()


def thread_app(environ, start_response):
    """A thread the app started must keep running between requests (no GIL held while idle)."""
    return _json(start_response, {"ticks": len(_ticks)})


ROUTES = {
    "/environ": validator(environ_app),
    "/input": validator(input_app),
    "/read-all": read_all_app,
    "/upload": upload_app,
    "/refuse": validator(refuse_app),
    "/announced-upload": announced_upload_app,
    "/stream": validator(stream_app),
    "/late": validator(LateStart),
    "/write": validator(write_app),
    "/raise": validator(raise_app),
    "/raise-after": raise_after_app,
    "/exc-info": validator(exc_info_app),
    "/short": short_app,
    "/long": long_app,
    "/bad-header": bad_header_app,
    "/file": file_app,  # unwrapped: the validator wraps the FileWrapper, hiding it from the server
    "/file-validated": validator(file_app),
    "/big": validator(big_app),
    "/endless": Endless,
    "/counted": counted_app,
    "/produced": produced_app,
    "/thread": thread_app,
}


def app(environ, start_response):
    route = ROUTES.get(environ["PATH_INFO"])
    if route is None:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]
    return route(environ, start_response)
