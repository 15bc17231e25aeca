"""Expect: 100-continue (RFC 9110 10.1.1, PEP 3333): the 100 goes out when the app first reads
wsgi.input, never before, so a client whose upload the app refuses unread gets the final
response without having sent the body. Gunicorn sends the 100 as soon as the head is read.
Raw sockets: the client sends the head, and the body only once the 100 has arrived."""

import hashlib
import json
import os
import socket
import subprocess

import pytest

from conftest import read_response
from test_tls import pki  # noqa: F401  (the certificates fixture)

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
SIZES = [10, 200_000]  # within and past the default --body-buffer-size (64 KiB)


@pytest.fixture
def server(serve):
    return serve("wsgi_features:app", "-w", "2", "--threads", "2")


def head(path, length, extra=b""):
    return (b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nExpect: 100-continue\r\n%s\r\n"
            % (path.encode(), length, extra))


def closed(sock):
    """The server closed the connection (EOF or reset) without sending anything more."""
    try:
        return sock.recv(65536) == b""
    except ConnectionResetError:
        return True


def upload_after_continue(sock, f, tmp_path, body):
    """One Expect request to an app that reads the body: the 100 comes once the app runs."""
    marker = tmp_path / ("called-%d" % len(body))
    sock.sendall(head("/announced-upload?%s" % marker, len(body)))
    assert f.read(len(CONTINUE)) == CONTINUE
    # The app was already running when the 100 came: it was its read that sent the 100.
    assert marker.read_text() == "called"
    marker.unlink()
    sock.sendall(body)
    status, _, headers, _, reply = read_response(f)
    assert status == 200 and "connection" not in headers
    assert json.loads(reply) == {"bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}


@pytest.mark.parametrize("size", SIZES)
def test_refused_unread_the_final_response_comes_without_100(server, size):
    with server.connect() as s:
        f = s.makefile("rb")
        s.sendall(b"GET /environ HTTP/1.1\r\nHost: x\r\n\r\n")  # a keep-alive connection
        assert read_response(f)[0] == 200
        s.sendall(head("/refuse", size))  # and never the body
        # The first response to arrive is the final one (a 100 would be read as status 100).
        status, _, headers, _, body = read_response(f)
        assert (status, body) == (413, b"too large")
        # The client that kept its body has nothing the server could wait for: it closes,
        # and says so, rather than reading the client's next bytes as that body.
        assert headers["connection"] == "close"
        assert closed(s)
    with server.connect() as s:
        s.sendall(b"GET /environ HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(s)[0] == 200


def test_body_sent_anyway_after_the_refusal_is_never_parsed_as_a_request(server):
    smuggled = b"GET /environ HTTP/1.1\r\nHost: x\r\n\r\n"
    with server.connect() as s:
        f = s.makefile("rb")
        s.sendall(head("/refuse", len(smuggled)))
        status, _, headers, _, body = read_response(f)
        assert (status, headers["connection"]) == (413, "close")
        try:
            s.sendall(smuggled)  # the body, which happens to look like a request
        except (BrokenPipeError, ConnectionResetError):
            return
        try:
            assert f.read() == b""
        except ConnectionResetError:
            pass


@pytest.mark.parametrize("size", SIZES)
def test_app_reading_the_body_sends_the_100_then_gets_it(server, tmp_path, size):
    with server.connect() as s:
        f = s.makefile("rb")
        upload_after_continue(s, f, tmp_path, os.urandom(size))
        # The connection stays usable: a second Expect upload, then a plain request.
        upload_after_continue(s, f, tmp_path, os.urandom(size))
        s.sendall(b"GET /environ HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(f)[0] == 200


def test_without_body_buffering_too(serve, tmp_path):
    server = serve("wsgi_features:app", "-w", "2", "--body-buffer-size", "0")
    with server.connect() as s:
        f = s.makefile("rb")
        upload_after_continue(s, f, tmp_path, b"y" * 1000)
        s.sendall(head("/refuse", 1000))
        status, _, headers, _, _ = read_response(f)
        assert (status, headers["connection"]) == (413, "close")


def test_http10_expect_is_ignored_and_the_body_buffered(server):
    # RFC 9110 10.1.1: a 100-continue expectation on HTTP/1.0 is ignored (no 100 is sent).
    with server.connect() as s:
        s.sendall(b"POST /upload HTTP/1.0\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\nabc")
        status, _, _, _, body = read_response(s)
    assert status == 200 and json.loads(body)["bytes"] == 3


def nghttp(url, *args):
    r = subprocess.run(["nghttp", "-v", *args, url], capture_output=True, text=True, timeout=30)
    statuses = [line.split(":status:")[1].strip() for line in r.stdout.splitlines() if ":status:" in line]
    return r.returncode, statuses, r.stdout


@pytest.mark.parametrize("tls", [False, True], ids=["h2c", "h2-tls"])
def test_http2_refused_unread_gets_no_100(serve, tmp_path, tls, pki):  # noqa: F811
    if tls:
        server = serve("wsgi_features:app", "-w", "2", "--http-protocols", "h2,h1",
                       "--certfile", str(pki / "server.pem"), "--keyfile", str(pki / "server.key"))
        base = "https://127.0.0.1:%d" % server.port
    else:
        server = serve("wsgi_features:app", "-w", "2", "--http-protocols", "h2")
        base = "http://127.0.0.1:%d" % server.port
    body = tmp_path / "body"
    body.write_bytes(b"z" * 300_000)
    for _ in range(3):
        code, statuses, out = nghttp(base + "/refuse", "-H", "expect: 100-continue", "-d", str(body))
        # The complete 413, then the stream reset with NO_ERROR (RFC 9113 8.1).
        assert (code, statuses) == (0, ["413"]), out
        assert "too large" in out
    code, statuses, out = nghttp(base + "/upload", "-H", "expect: 100-continue", "-d", str(body))
    assert code == 0 and statuses[-1] == "200", out
    assert '"bytes": 300000' in out

