"""An app for the JSON access log tests: echoes the X-Hostile request header in a response
header, and puts control characters, quotes and backslashes in an environ value."""

import os

HOSTILE_ENVIRON = "\x00\x01\x1f\x7f\"\\\u2028\U0001f600 end"


def app(environ, start_response):
    environ["app.hostile"] = HOSTILE_ENVIRON
    body = ("pid=%d" % os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body))),
                              ("X-Echo", environ.get("HTTP_X_HOSTILE", "-"))])
    return [body]
