"""Installed into a test virtualenv: importable only when Narwhal uses that venv."""

import sys


def app(environ, start_response):
    import flask  # from Debian's packages, seen through --system-site-packages
    body = ("%s|%s|%s" % (sys.prefix, sys.executable, flask.__name__)).encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]
