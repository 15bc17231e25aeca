"""Proxy trust as Gunicorn defines it: forwarded_allow_ips (addresses, CIDR, '*'; a unix
socket peer is trusted) decides who may set secure_scheme_headers, which decide
wsgi.url_scheme; two that disagree make a 400 that never reaches the app."""

import socket
import textwrap

import pytest
import requests

from conftest import APPS, read_response, run_narwhal


def scheme(server, headers):
    r = requests.get(server.url("/scheme"), headers=headers)
    return r.status_code, r.text


def test_defaults_trust_the_local_proxy_as_gunicorn_does(serve):
    server = serve("logapp:app")
    assert scheme(server, {}) == (200, "http")
    assert scheme(server, {"X-Forwarded-Proto": "https"}) == (200, "https")
    assert scheme(server, {"X-Forwarded-Ssl": "on"}) == (200, "https")
    assert scheme(server, {"X-Forwarded-Protocol": "ssl"}) == (200, "https")
    assert scheme(server, {"X-Forwarded-Proto": "http"}) == (200, "http")
    # Agreeing headers are fine; disagreeing ones are Gunicorn's InvalidSchemeHeaders.
    assert scheme(server, {"X-Forwarded-Proto": "https", "X-Forwarded-Ssl": "on"}) == (200, "https")
    status, body = scheme(server, {"X-Forwarded-Proto": "https", "X-Forwarded-Ssl": "off"})
    assert status == 400 and body != "https"


def test_untrusted_peer_cannot_set_the_scheme(serve):
    server = serve("logapp:app", "--forwarded-allow-ips", "10.0.0.0/8,192.168.1.7")
    assert scheme(server, {"X-Forwarded-Proto": "https"}) == (200, "http")
    # Nor can it make a request invalid with conflicting headers.
    assert scheme(server, {"X-Forwarded-Proto": "https", "X-Forwarded-Ssl": "off"}) == (200, "http")


@pytest.mark.parametrize("allowed", ["*", "127.0.0.0/8", "10.1.2.3,127.0.0.1"])
def test_trusted_by_wildcard_cidr_or_address(serve, allowed):
    server = serve("logapp:app", "--forwarded-allow-ips", allowed)
    assert scheme(server, {"X-Forwarded-Proto": "https"}) == (200, "https")


def test_unix_socket_peer_is_trusted(serve, tmp_path):
    path = tmp_path / "app.sock"
    server = serve("logapp:app", "-b", "unix:%s" % path, "--forwarded-allow-ips", "10.0.0.1", bind=False)
    s = socket.socket(socket.AF_UNIX)
    s.connect(str(path))
    s.sendall(b"GET /scheme HTTP/1.1\r\nHost: x\r\nX-Forwarded-Proto: https\r\nConnection: close\r\n\r\n")
    status, _, _, _, body = read_response(s.makefile("rb"))
    assert (status, body) == (200, b"https")


def test_secure_scheme_headers_from_the_config_file(serve, tmp_path):
    (tmp_path / "gunicorn.conf.py").write_text(textwrap.dedent("""
        pythonpath = %r
        secure_scheme_headers = {"X-SCHEME": "secure"}
    """ % str(APPS)))
    server = serve("logapp:app", cwd=tmp_path)
    assert scheme(server, {"X-Scheme": "secure"}) == (200, "https")
    assert scheme(server, {"X-Scheme": "Secure"}) == (200, "http")  # values are compared exactly
    assert scheme(server, {"X-Forwarded-Proto": "https"}) == (200, "http")  # no longer listed

    (tmp_path / "gunicorn.conf.py").write_text("pythonpath = %r\nsecure_scheme_headers = {}\n" % str(APPS))
    server = serve("logapp:app", cwd=tmp_path)
    assert scheme(server, {"X-Forwarded-Proto": "https"}) == (200, "http")


@pytest.mark.parametrize("value, message", [
    ("192.168.1.1/24", "has host bits set"),
    ("not-an-ip", "is not an IP address, a CIDR network or '*'"),
    ("10.0.0.0/40", "the prefix must be 0..32"),
])
def test_bad_forwarded_allow_ips_names_the_setting(value, message):
    r = run_narwhal("--forwarded-allow-ips", value, "logapp:app")
    assert r.returncode == 2 and "--forwarded-allow-ips" in r.stderr and message in r.stderr, r.stderr


def raw_get(server, target, *headers):
    s = server.connect()
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\n\r\n" % (target, "".join(h + "\r\n" for h in headers))).encode())
    status, _, _, _, body = read_response(s)
    return status, body.decode()


def test_forwarder_headers_mount_the_app_below_the_proxys_prefix(serve):
    """Gunicorn's defaults: a trusted front-end may send SCRIPT_NAME (and PATH_INFO)."""
    server = serve("logapp:app")
    assert raw_get(server, "/app/environ/SCRIPT_NAME", "SCRIPT_NAME: /app") == (200, "/app")
    assert raw_get(server, "/app/environ/PATH_INFO", "SCRIPT_NAME: /app") == (200, "/environ/PATH_INFO")
    assert raw_get(server, "/environ/HTTP_PATH_INFO", "PATH_INFO: /x") == (200, "/x")
    # The path must start with the prefix the front-end gave.
    assert raw_get(server, "/other/environ/SCRIPT_NAME", "SCRIPT_NAME: /app")[0] == 400


def test_forwarder_headers_only_from_trusted_peers(serve):
    server = serve("logapp:app", "--forwarded-allow-ips", "10.0.0.1")
    assert raw_get(server, "/environ/SCRIPT_NAME", "SCRIPT_NAME: /app") == (200, "")
    assert raw_get(server, "/environ/HTTP_PATH_INFO", "PATH_INFO: /x") == (200, "<absent>")


def test_forwarder_headers_setting(serve):
    server = serve("logapp:app", "--forwarder-headers", "X_TENANT")
    assert raw_get(server, "/environ/HTTP_X_TENANT", "X_TENANT: blue") == (200, "blue")
    assert raw_get(server, "/environ/SCRIPT_NAME", "SCRIPT_NAME: /app") == (200, "")
    empty = serve("logapp:app", "--forwarder-headers", "")
    assert raw_get(empty, "/environ/HTTP_PATH_INFO", "PATH_INFO: /x") == (200, "<absent>")


def test_forwarder_headers_pass_header_map_refuse(serve):
    server = serve("logapp:app", "--header-map", "refuse")
    assert raw_get(server, "/app/environ/SCRIPT_NAME", "SCRIPT_NAME: /app") == (200, "/app")
    assert raw_get(server, "/", "X_OTHER: 1")[0] == 400
