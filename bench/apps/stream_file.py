"""A 1 MiB file sent through wsgi.file_wrapper (each server's sendfile path)."""
import os
import tempfile

SIZE = 16 * 65536
# One file for every worker of every server: written once, left for the next run.
PATH = os.path.join(tempfile.gettempdir(), "narwhal-bench-stream-1MiB")
if not os.path.exists(PATH) or os.path.getsize(PATH) != SIZE:
    with open(PATH + ".%d" % os.getpid(), "wb") as f:
        f.write(b"x" * SIZE)
    os.replace(PATH + ".%d" % os.getpid(), PATH)


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(SIZE))])
    return environ["wsgi.file_wrapper"](open(PATH, "rb"), 65536)
