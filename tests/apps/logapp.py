"""An app for the logging, settings and hooks tests: each path shows one behaviour."""

import os
import sys


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path.startswith("/env/"):
        body = os.environ.get(path[5:], "<unset>").encode()
    elif path.startswith("/status/"):
        code = int(path[8:])
        start_response("%d Custom" % code, [("Content-Type", "text/plain"), ("X-Out", "out-value")])
        return [b"status"]
    elif path == "/print":
        print("printed to stdout by the app", flush=True)
        print("printed to stderr by the app", file=sys.stderr, flush=True)
        body = b"printed"
    elif path == "/raise":
        raise RuntimeError("the app failed on purpose")
    elif path.startswith("/environ/"):
        body = str(environ.get(path[9:], "<absent>")).encode()
    elif path == "/read":
        body = str(len(environ["wsgi.input"].read())).encode()
    elif path == "/scheme":
        body = environ["wsgi.url_scheme"].encode()
    elif path == "/mark":
        environ["app.mark"] = "marked-by-app"
        body = b"marked"
    else:
        body = b"hello"
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Out", "out-value")])
    return [body]
