"""For the log integrity tests: each request print()s one line naming it (the last part of
its path), to stdout or, for ids ending in an odd digit, to stderr. The padding makes the
lines long enough that a write split mid-line would show."""

import sys

PADDING = "=" * 150


def line(request_id):
    return "printed %s %s end" % (request_id, PADDING)


def app(environ, start_response):
    request_id = environ["PATH_INFO"].rpartition("/")[2]
    stream = sys.stderr if request_id.endswith(tuple("13579")) else sys.stdout
    print(line(request_id), file=stream)
    body = b"ok"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
