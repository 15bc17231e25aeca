"""TLS with Gunicorn's settings: certfile/keyfile serve HTTPS (wsgi.url_scheme https);
cert_reqs with ca_certs asks for client certificates. Real certificates made by openssl,
real clients (curl, requests)."""

import re
import subprocess
import textwrap

import pytest
import requests

from conftest import APPS, run_narwhal


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA, a server certificate for 127.0.0.1 signed by it, a client certificate signed by
    it, and a self-signed client certificate the server must not accept."""
    d = tmp_path_factory.mktemp("pki")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=Narwhal Test CA", cwd=d)
    (d / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name, subject in (("server", "/CN=localhost"), ("client", "/CN=client")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "%s.key" % name, "-out", "%s.csr" % name,
                "-subj", subject, cwd=d)
        extra = ["-extfile", "server.ext"] if name == "server" else []
        openssl("x509", "-req", "-in", "%s.csr" % name, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", "%s.pem" % name, "-days", "2", *extra, cwd=d)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "rogue.key", "-out", "rogue.pem",
            "-days", "2", "-subj", "/CN=rogue", cwd=d)
    return d


def curl(url, *args):
    r = subprocess.run(["curl", "-s", "-S", "--max-time", "10", *args, url], capture_output=True, text=True)
    return r.returncode, r.stdout


def test_https_with_certfile_and_keyfile(serve, pki):
    server = serve("logapp:app", "--certfile", str(pki / "server.pem"), "--keyfile", str(pki / "server.key"))
    url = "https://127.0.0.1:%d" % server.port
    r = requests.get(url + "/scheme", verify=str(pki / "ca.pem"))
    assert (r.status_code, r.text) == (200, "https")
    assert requests.get(url + "/environ/SERVER_PORT", verify=str(pki / "ca.pem")).text == str(server.port)
    # Keep-alive over TLS: several requests on one connection.
    with requests.Session() as s:
        assert [s.get(url + "/", verify=str(pki / "ca.pem")).text for _ in range(3)] == ["hello"] * 3
    # A client that does not trust the certificate fails the handshake.
    code, _ = curl(url + "/")
    assert code != 0


def test_client_certificates_required(serve, pki):
    server = serve("logapp:app", "--certfile", str(pki / "server.pem"), "--keyfile", str(pki / "server.key"),
                   "--cert-reqs", "2", "--ca-certs", str(pki / "ca.pem"))
    url = "https://127.0.0.1:%d/" % server.port
    ca = ["--cacert", str(pki / "ca.pem")]
    assert curl(url, *ca, "--cert", str(pki / "client.pem"), "--key", str(pki / "client.key")) == (0, "hello")
    assert curl(url, *ca)[0] != 0                                                          # no certificate
    assert curl(url, *ca, "--cert", str(pki / "rogue.pem"), "--key", str(pki / "rogue.key"))[0] != 0  # not from ca_certs


def test_client_certificates_optional(serve, pki):
    server = serve("logapp:app", "--certfile", str(pki / "server.pem"), "--keyfile", str(pki / "server.key"),
                   "--cert-reqs", "1", "--ca-certs", str(pki / "ca.pem"))
    url = "https://127.0.0.1:%d/" % server.port
    ca = ["--cacert", str(pki / "ca.pem")]
    assert curl(url, *ca) == (0, "hello")
    assert curl(url, *ca, "--cert", str(pki / "client.pem"), "--key", str(pki / "client.key")) == (0, "hello")


def test_tls_errors_are_clear(pki, tmp_path):
    r = run_narwhal("--certfile", str(tmp_path / "missing.pem"), "logapp:app")
    assert r.returncode == 1 and "certfile" in r.stderr and "does not exist" in r.stderr
def handshake(port, *args):
    """openssl s_client's handshake with TLS 1.2 and the given cipher: the cipher agreed, or None."""
    r = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-tls1_2", *args],
                       input="", capture_output=True, text=True, timeout=20)
    m = re.search(r"Cipher is (\S+)", r.stdout)
    return m.group(1) if m and m.group(1) != "(NONE)" else None


def test_ciphers_restrict_the_suites(serve, pki):
    server = serve("logapp:app", "--certfile", str(pki / "server.pem"), "--keyfile", str(pki / "server.key"),
                   "--ciphers", "ECDHE-RSA-AES128-GCM-SHA256")
    assert handshake(server.port, "-cipher", "ECDHE-RSA-AES128-GCM-SHA256") == "ECDHE-RSA-AES128-GCM-SHA256"
    assert handshake(server.port, "-cipher", "ECDHE-RSA-AES256-GCM-SHA384") is None
    # TLS 1.3 suites are not restricted by an OpenSSL cipher string (nor are they in Gunicorn).
    code, body = curl("https://127.0.0.1:%d/" % server.port, "--cacert", str(pki / "ca.pem"), "--tlsv1.3")
    assert (code, body) == (0, "hello")


def test_default_ciphers_take_others(serve, pki):
    server = serve("logapp:app", "--certfile", str(pki / "server.pem"), "--keyfile", str(pki / "server.key"))
    assert handshake(server.port, "-cipher", "ECDHE-RSA-AES256-GCM-SHA384") == "ECDHE-RSA-AES256-GCM-SHA384"


def test_cipher_string_selecting_nothing_is_a_clear_error(pki, tmp_path):
    r = run_narwhal("--certfile", str(pki / "server.pem"), "--keyfile", str(pki / "server.key"),
                    "--ciphers", "NO-SUCH-CIPHER", "-b", "127.0.0.1:0", "logapp:app")
    assert r.returncode != 0 and "Invalid value for ciphers: 'NO-SUCH-CIPHER'" in r.stderr


def hook_config(tmp_path, pki, body):
    (tmp_path / "gunicorn.conf.py").write_text("import ssl\npythonpath = %r\ncertfile = %r\nkeyfile = %r\n" % (
        str(APPS), str(pki / "server.pem"), str(pki / "server.key")) + textwrap.dedent(body))


def test_ssl_context_hook_sets_the_minimum_version(serve, pki, tmp_path):
    """Gunicorn's documented way to require TLS 1.3: the hook edits the default context."""
    hook_config(tmp_path, pki, """
        def ssl_context(conf, default_ssl_context_factory):
            context = default_ssl_context_factory()
            context.minimum_version = ssl.TLSVersion.TLSv1_3
            return context
    """)
    server = serve("logapp:app", cwd=tmp_path)
    assert handshake(server.port) is None  # -tls1_2
    code, body = curl("https://127.0.0.1:%d/scheme" % server.port, "--cacert", str(pki / "ca.pem"), "--tlsv1.3")
    assert (code, body) == (0, "https")


def test_ssl_context_hook_with_its_own_context(serve, pki, tmp_path):
    """A context built by the hook itself, asking for client certificates from its CA."""
    hook_config(tmp_path, pki, """
        def ssl_context(conf, default_ssl_context_factory):
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(conf.certfile, conf.keyfile)
            context.load_verify_locations(cafile=%r)
            context.verify_mode = ssl.CERT_REQUIRED
            context.set_ciphers("ECDHE-RSA-AES128-GCM-SHA256")
            return context
    """ % str(pki / "ca.pem"))
    server = serve("logapp:app", cwd=tmp_path)
    url = "https://127.0.0.1:%d/" % server.port
    ca = ["--cacert", str(pki / "ca.pem")]
    assert curl(url, *ca, "--cert", str(pki / "client.pem"), "--key", str(pki / "client.key")) == (0, "hello")
    assert curl(url, *ca)[0] != 0
    assert handshake(server.port, "-cipher", "ECDHE-RSA-AES256-GCM-SHA384",
                     "-cert", str(pki / "client.pem"), "-key", str(pki / "client.key")) is None


def test_ssl_context_hook_that_cannot_be_served_is_a_clear_error(pki, tmp_path):
    hook_config(tmp_path, pki, """
        def ssl_context(conf, default_ssl_context_factory):
            return ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    """)
    r = run_narwhal("-b", "127.0.0.1:0", "logapp:app", cwd=tmp_path)
    assert r.returncode != 0 and "ssl_context" in r.stderr and "has no certificate" in r.stderr
