"""A 1 MB response streamed in 64 KiB chunks."""
CHUNK = b"x" * 65536


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(16 * 65536))])
    return (CHUNK for _ in range(16))
