"""An I/O-bound app: each request waits 10 ms (a database or an API call)."""
import time


def app(environ, start_response):
    time.sleep(0.010)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"slept"]
