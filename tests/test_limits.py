"""Gunicorn's request limits with their statuses: the request line (400), the number of
header fields and the size of one field (431); a refused request never reaches the app."""

import socket

import pytest

from conftest import read_response


def status_of(server, head):
    s = server.connect()
    s.sendall(head)
    r = read_response(s.makefile("rb"))
    s.close()
    return (r[0], r[4]) if r else (None, b"")


def line_of(length):
    """GET request whose request line (without CRLF) is exactly `length` bytes."""
    target = b"/" + b"a" * (length - len(b"GET ") - len(b" HTTP/1.1") - 1)
    return b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


def test_default_request_line_limit_is_4094(serve):
    server = serve("hello:app")
    assert status_of(server, line_of(4094)) == (200, b"hello")
    status, body = status_of(server, line_of(4095))
    assert status == 400 and body != b"hello"


@pytest.mark.parametrize("limit, ok, refused", [("100", 100, 101), ("0", 8000, None), ("9000", 8190, 8191)])
def test_limit_request_line(serve, limit, ok, refused):
    server = serve("hello:app", "--limit-request-line", limit)
    assert status_of(server, line_of(ok)) == (200, b"hello")
    if refused:
        assert status_of(server, line_of(refused))[0] == 400


def test_limit_request_fields(serve):
    server = serve("hello:app", "--limit-request-fields", "5")
    four = b"".join(b"X-%d: v\r\n" % i for i in range(3))  # + Host = 4 fields
    assert status_of(server, b"GET / HTTP/1.1\r\nHost: x\r\n" + four + b"Connection: close\r\n\r\n") == (200, b"hello")
    six = b"".join(b"X-%d: v\r\n" % i for i in range(5))
    status, body = status_of(server, b"GET / HTTP/1.1\r\nHost: x\r\n" + six + b"Connection: close\r\n\r\n")
    assert status == 431 and body != b"hello"


def test_limit_request_field_size_counts_the_line_as_gunicorn_does(serve):
    server = serve("hello:app", "--limit-request-field_size", "50")
    # "X-Long: " + value + CRLF: Gunicorn counts the whole line with its CRLF.
    fits = b"X-Long: " + b"v" * (50 - 8 - 2) + b"\r\n"
    assert status_of(server, b"GET / HTTP/1.1\r\nHost: x\r\n" + fits + b"Connection: close\r\n\r\n") == (200, b"hello")
    over = b"X-Long: " + b"v" * (50 - 8 - 1) + b"\r\n"
    assert status_of(server, b"GET / HTTP/1.1\r\nHost: x\r\n" + over + b"Connection: close\r\n\r\n")[0] == 431


def test_default_field_size_allows_long_fields_up_to_8190(serve):
    server = serve("hello:app")
    fits = b"X-Long: " + b"v" * (8190 - 8 - 2) + b"\r\n"
    assert status_of(server, b"GET / HTTP/1.1\r\nHost: x\r\n" + fits + b"Connection: close\r\n\r\n") == (200, b"hello")
    over = b"X-Long: " + b"v" * (8190 - 8 - 1) + b"\r\n"
    assert status_of(server, b"GET / HTTP/1.1\r\nHost: x\r\n" + over + b"Connection: close\r\n\r\n")[0] == 431


def environ_value(server, key, headers):
    s = server.connect()
    s.sendall(b"GET /environ/" + key + b" HTTP/1.1\r\nHost: x\r\n" + headers + b"Connection: close\r\n\r\n")
    r = read_response(s.makefile("rb"))
    s.close()
    return r[0], r[4]


def test_header_map_drop_is_the_default(serve):
    server = serve("logapp:app")
    assert environ_value(server, b"HTTP_X_USER", b"X_User: forged\r\n") == (200, b"<absent>")
    assert environ_value(server, b"HTTP_X_USER", b"X-User: alice\r\nX_User: forged\r\n") == (200, b"alice")


def test_header_map_refuse(serve):
    server = serve("logapp:app", "--header-map", "refuse")
    assert environ_value(server, b"HTTP_X_USER", b"X-User: alice\r\n") == (200, b"alice")
    status, body = environ_value(server, b"HTTP_X_USER", b"X_User: forged\r\n")
    assert status == 400 and b"forged" not in body


def test_header_map_dangerous_joins_colliding_names(serve):
    server = serve("logapp:app", "--header-map", "dangerous")
    assert environ_value(server, b"HTTP_X_USER", b"X_User: forged\r\n") == (200, b"forged")
    assert environ_value(server, b"HTTP_X_USER", b"X-User: alice\r\nX_User: forged\r\n") == (200, b"alice,forged")
