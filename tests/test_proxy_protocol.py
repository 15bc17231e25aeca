"""The PROXY protocol (proxy_protocol, proxy_allow_from), v1 text and v2 binary, as a load
balancer sends it: REMOTE_ADDR and REMOTE_PORT become the client behind the proxy, and
PROXY_PROTOCOL, PROXY_ADDR and PROXY_PORT appear, as in Gunicorn. Only allowed peers may
send it (403 otherwise); a malformed header is a 400 that never reaches the app."""

import ipaddress
import socket
import struct

import pytest

from conftest import read_response

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
KEYS = ("REMOTE_ADDR", "REMOTE_PORT", "PROXY_PROTOCOL", "PROXY_ADDR", "PROXY_PORT")


def v2(src, dst, sport, dport, command=1, tlvs=b""):
    a, b = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    family = 0x11 if a.version == 4 else 0x21
    body = a.packed + b.packed + struct.pack("!HH", sport, dport) + tlvs
    return V2_SIGNATURE + bytes([0x20 | command, family]) + struct.pack("!H", len(body)) + body


def environ_over(server, preamble, keys=KEYS, requests=1):
    """Sends the preamble, then `requests` keep-alive requests for each key; returns the values per request."""
    s = server.connect()
    s.sendall(preamble)
    f = s.makefile("rb")
    seen = []
    for _ in range(requests):
        values = {}
        for key in keys:
            s.sendall(b"GET /environ/%s HTTP/1.1\r\nHost: x\r\n\r\n" % key.encode())
            status, _, _, _, body = read_response(f)
            if status != 200:
                return status
            values[key] = body.decode()
        seen.append(values)
    s.close()
    return seen


@pytest.fixture
def proxied(serve):
    return serve("logapp:app", "--proxy-protocol")


def test_v1_sets_the_client_behind_the_proxy(proxied):
    [env] = environ_over(proxied, b"PROXY TCP4 203.0.113.7 192.0.2.1 51000 443\r\n")
    assert env == {"REMOTE_ADDR": "203.0.113.7", "REMOTE_PORT": "51000", "PROXY_PROTOCOL": "TCP4",
                   "PROXY_ADDR": "192.0.2.1", "PROXY_PORT": "443"}


def test_v1_ipv6(proxied):
    [env] = environ_over(proxied, b"PROXY TCP6 2001:db8::7 2001:db8::1 51000 8443\r\n")
    assert env["REMOTE_ADDR"] == "2001:db8::7" and env["PROXY_ADDR"] == "2001:db8::1"
    assert env["PROXY_PROTOCOL"] == "TCP6" and env["PROXY_PORT"] == "8443"


def test_v2_ipv4_and_ipv6_with_tlvs(proxied):
    [env] = environ_over(proxied, v2("198.51.100.9", "192.0.2.1", 40000, 80, tlvs=b"\x04\x00\x03abc"))
    assert env == {"REMOTE_ADDR": "198.51.100.9", "REMOTE_PORT": "40000", "PROXY_PROTOCOL": "TCP4",
                   "PROXY_ADDR": "192.0.2.1", "PROXY_PORT": "80"}
    [env] = environ_over(proxied, v2("2001:db8::9", "2001:db8::1", 40001, 443))
    assert env["REMOTE_ADDR"] == "2001:db8::9" and env["PROXY_PROTOCOL"] == "TCP6"


def test_header_is_read_once_per_connection(proxied):
    # The second request on the connection still carries the first one's client.
    first, second = environ_over(proxied, b"PROXY TCP4 203.0.113.7 192.0.2.1 51000 443\r\n", keys=("REMOTE_ADDR",), requests=2)
    assert first == second == {"REMOTE_ADDR": "203.0.113.7"}


@pytest.mark.parametrize("preamble", [b"PROXY UNKNOWN\r\n", v2("192.0.2.5", "192.0.2.1", 1, 2, command=0)],
                         ids=["v1-unknown", "v2-local"])
def test_health_checks_keep_the_connection_address(proxied, preamble):
    [env] = environ_over(proxied, preamble)
    assert env["REMOTE_ADDR"] == "127.0.0.1" and env["PROXY_PROTOCOL"] == "<absent>"


def test_connection_without_header_is_served(proxied):
    [env] = environ_over(proxied, b"")
    assert env["REMOTE_ADDR"] == "127.0.0.1" and env["PROXY_ADDR"] == "<absent>"


@pytest.mark.parametrize("preamble", [
    b"PROXY TCP4 203.0.113.7 192.0.2.1 51000\r\n",         # a field missing
    b"PROXY TCP4 2001:db8::7 192.0.2.1 51000 443\r\n",      # address of the other family
    b"PROXY TCP4 203.0.113.7 192.0.2.1 51000 70000\r\n",    # port out of range
    b"PROXY TCP5 203.0.113.7 192.0.2.1 51000 443\r\n",      # unknown protocol
    b"PROXY TCP4 203.0.113.7 192.0.2.1 51000 443\n",        # bare LF
    b"PROXY " + b"1" * 120 + b"\r\n",                         # longer than the 107-byte maximum
    V2_SIGNATURE + b"\x31\x11\x00\x0c" + bytes(12),           # version 3
    V2_SIGNATURE + b"\x21\x11\x00\x04" + bytes(4),            # IPv4 block too short
], ids=["fields", "family", "port", "proto", "bare-lf", "too-long", "v2-version", "v2-short"])
def test_malformed_header_is_400(proxied, preamble):
    s = proxied.connect()
    s.sendall(preamble + b"GET /environ/REMOTE_ADDR HTTP/1.1\r\nHost: x\r\n\r\n")
    status, _, _, _, body = read_response(s)
    assert status == 400 and body != b"127.0.0.1"


def test_peer_outside_proxy_allow_from_gets_403(serve):
    server = serve("logapp:app", "--proxy-protocol", "--proxy-allow-from", "10.0.0.0/8")
    s = server.connect()
    s.sendall(b"PROXY TCP4 203.0.113.7 192.0.2.1 51000 443\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert read_response(s)[0] == 403
    # Without a header, the same peer is served as usual.
    [env] = environ_over(server, b"", keys=("REMOTE_ADDR",))
    assert env == {"REMOTE_ADDR": "127.0.0.1"}


def test_v1_mode_does_not_take_v2(serve):
    server = serve("logapp:app", "--proxy-protocol", "v1")
    s = server.connect()
    s.sendall(v2("198.51.100.9", "192.0.2.1", 40000, 80) + b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert read_response(s)[0] == 400
    [env] = environ_over(server, b"PROXY TCP4 203.0.113.7 192.0.2.1 51000 443\r\n", keys=("REMOTE_ADDR",))
    assert env == {"REMOTE_ADDR": "203.0.113.7"}


def test_v2_mode_does_not_take_v1(serve):
    server = serve("logapp:app", "--proxy-protocol", "v2")
    s = server.connect()
    s.sendall(b"PROXY TCP4 203.0.113.7 192.0.2.1 51000 443\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert read_response(s)[0] == 400
    [env] = environ_over(server, v2("198.51.100.9", "192.0.2.1", 40000, 80), keys=("REMOTE_ADDR",))
    assert env == {"REMOTE_ADDR": "198.51.100.9"}


def test_off_by_default(serve):
    server = serve("logapp:app")
    s = server.connect()
    s.sendall(b"PROXY TCP4 203.0.113.7 192.0.2.1 51000 443\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert read_response(s)[0] == 400


def test_header_split_across_packets_and_access_log_shows_client(serve, tmp_path):
    log = tmp_path / "access.log"
    server = serve("logapp:app", "--proxy-protocol", "--access-logfile", str(log))
    s = server.connect()
    for piece in (b"PROX", b"Y TCP4 203.0.113.7 19", b"2.0.2.1 51000 443\r", b"\nGET /hi HTTP/1.1\r\nHost: x\r\n\r\n"):
        s.sendall(piece)
    assert read_response(s)[0] == 200
    s.close()
    server.stop()
    assert log.read_text().startswith("203.0.113.7 - - [")


def test_behind_tls(serve, tmp_path):
    """The PROXY header comes before the TLS handshake, as a TCP load balancer sends it."""
    import ssl
    import subprocess
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=localhost"], check=True, capture_output=True)
    server = serve("logapp:app", "--proxy-protocol", "--certfile", str(cert), "--keyfile", str(key))
    raw = socket.create_connection(("127.0.0.1", server.port))
    raw.sendall(b"PROXY TCP4 203.0.113.7 192.0.2.1 51000 443\r\n")
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    s = ctx.wrap_socket(raw, server_hostname="localhost")
    s.sendall(b"GET /environ/REMOTE_ADDR HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    status, _, _, _, body = read_response(s.makefile("rb"))
    assert (status, body) == (200, b"203.0.113.7")
