"""Request smuggling, one test per vector: each ambiguous or malformed request is refused
(400, or the connection closed) before it reaches the app, and the request hidden behind
it is never served. A valid request on a new connection is served afterwards."""

import socket

import pytest

from conftest import read_response

SMUGGLED = b"GET /environ/SMUGGLED HTTP/1.1\r\nHost: x\r\n\r\n"

VECTORS = {
    "cl-te": b"POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SMUGGLED,
    "te-cl": b"POST /first HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n" + SMUGGLED,
    "cl-cl-differ": b"POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 45\r\n\r\n" + SMUGGLED,
    "cl-cl-same": b"POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 45\r\nContent-Length: 45\r\n\r\n" + SMUGGLED,
    "cl-list": b"POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 0, 45\r\n\r\n" + SMUGGLED,
    "cl-not-digits": b"POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 4x\r\n\r\n" + SMUGGLED,
    "cl-negative": b"POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: -45\r\n\r\n" + SMUGGLED,
    "cl-hex": b"POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 0x2d\r\n\r\n" + SMUGGLED,
    "cl-huge": b"POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n" + SMUGGLED,
    "te-unknown": b"POST /first HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" + SMUGGLED,
    "te-chunked-not-last": b"POST /first HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n" + SMUGGLED,
    "te-space-before-colon": b"POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n" + SMUGGLED,
    "te-folded": b"POST /first HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + SMUGGLED,
    "te-http10": b"POST /first HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n0\r\n\r\n" + SMUGGLED,
    "bare-lf-head": b"GET /first HTTP/1.1\nHost: x\n\n" + SMUGGLED,
    "bare-lf-header": b"GET /first HTTP/1.1\r\nHost: x\nX: y\r\n\r\n" + SMUGGLED,
    "bare-cr-header": b"GET /first HTTP/1.1\r\nHost: x\r\nX: a\rContent-Length: 45\r\n\r\n" + SMUGGLED,
    "nul-in-value": b"GET /first HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n" + SMUGGLED,
    "ctl-in-value": b"GET /first HTTP/1.1\r\nHost: x\r\nX: a\x01b\r\n\r\n" + SMUGGLED,
    "nul-in-name": b"GET /first HTTP/1.1\r\nHost: x\r\nX\x00Y: a\r\n\r\n" + SMUGGLED,
    "nul-in-target": b"GET /fi\x00rst HTTP/1.1\r\nHost: x\r\n\r\n" + SMUGGLED,
    "space-in-name": b"GET /first HTTP/1.1\r\nHost: x\r\nX Y: a\r\n\r\n" + SMUGGLED,
    "obs-fold": b"GET /first HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n" + SMUGGLED,
    "chunk-size-overflow": b"POST /first HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff1\r\nab\r\n0\r\n\r\n" + SMUGGLED,
    "chunk-size-negative": b"POST /first HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-2\r\nab\r\n0\r\n\r\n" + SMUGGLED,
    "chunk-size-bad-char": b"POST /first HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2x\r\nab\r\n0\r\n\r\n" + SMUGGLED,
    "chunk-data-too-long": b"POST /first HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabcdef\r\n0\r\n\r\n" + SMUGGLED,
    "chunk-bare-lf": b"POST /first HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\nab\n0\n\n" + SMUGGLED,
    "chunk-ext-bare-cr": b"POST /first HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2;a\rb\r\nab\r\n0\r\n\r\n" + SMUGGLED,
    "trailer-content-length": b"POST /first HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\nContent-Length: 45\r\n\r\n" + SMUGGLED,
    "two-hosts": b"GET /first HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n" + SMUGGLED,
    "request-line-tab": b"GET\t/first HTTP/1.1\r\nHost: x\r\n\r\n" + SMUGGLED,
    "absolute-target-crlf": b"GET http://x/first\r\n HTTP/1.1\r\nHost: x\r\n\r\n" + SMUGGLED,
}


def responses_to(server, data):
    s = server.connect(timeout=5)
    out = []
    try:
        s.sendall(data)
        f = s.makefile("rb")
        while True:
            r = read_response(f)
            if r is None:
                break
            out.append(r)
            if r[2].get("connection", "").lower() == "close":
                break
    except (socket.timeout, ConnectionResetError, BrokenPipeError):
        pass
    finally:
        s.close()
    return out


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    import os
    from conftest import APPS, Server, free_port
    port = free_port()
    env = dict(os.environ)
    env.pop("VIRTUAL_ENV", None)
    s = Server(["-b", "127.0.0.1:%d" % port, "logapp:app"], APPS, env, port, tmp_path_factory.mktemp("smuggling") / "log")
    yield s
    s.stop()


@pytest.mark.parametrize("name", list(VECTORS))
def test_vector_is_refused_and_nothing_behind_it_is_served(server, name):
    responses = responses_to(server, VECTORS[name])
    # Never an answer from the app: not to the first request, not to the smuggled one.
    assert all(r[4] not in (b"hello", b"<absent>") for r in responses), [(r[0], r[4][:40]) for r in responses]
    assert responses == [] or responses[0][0] in (400, 501), [r[:2] for r in responses]
    # The server itself is fine.
    ok = responses_to(server, b"GET /environ/HTTP_HOST HTTP/1.1\r\nHost: after\r\nConnection: close\r\n\r\n")
    assert [(r[0], r[4]) for r in ok] == [(200, b"after")]


def test_control_valid_pipeline_is_served(server):
    """The harness itself: the same shape of request, well framed, gets both answers."""
    ok = (b"POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" + SMUGGLED
          + b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert [(r[0], r[4]) for r in responses_to(server, ok)] == [(200, b"hello"), (200, b"<absent>"), (200, b"hello")]


def test_underscore_lookalike_never_frames_nor_reaches_the_app(server):
    """Transfer_Encoding is not Transfer-Encoding: Content-Length frames the request (as in
    Gunicorn, whose default header_map drops the look-alike), so what follows the 5 bytes is
    a request of its own, and the app never sees HTTP_TRANSFER_ENCODING."""
    data = (b"POST /environ/HTTP_TRANSFER_ENCODING HTTP/1.1\r\nHost: x\r\nTransfer_Encoding: chunked\r\n"
            b"Content-Length: 5\r\n\r\n0\r\n\r\nGET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert [(r[0], r[4]) for r in responses_to(server, data)] == [(200, b"<absent>"), (200, b"hello")]
