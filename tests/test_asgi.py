"""`-k asgi` over HTTP (issue 14): the HTTP scope, streamed request and response bodies,
disconnects, errors, concurrency on one worker, lifespan, settings. Each docstring names the
spec point it checks (ASGI HTTP 2.4, lifespan 2.0, or the issue's own). Against Gunicorn +
uvicorn with NARWHAL_ASGI_REFERENCE=uvicorn (see asgi_target.py)."""

import asyncio
import hashlib
import json
import re
import subprocess
import time

import pytest
import requests

from asgi_target import (ASGI_APPS, REFERENCE, asgi_serve, get_json, markers, module_markers,  # noqa: F401
                         module_serve, narwhal_only, read_marker, run_target)
from conftest import many_at_once, read_response, run_narwhal
from procs import wait_for
from test_tls import pki  # noqa: F401  (the certificates fixture)


@pytest.fixture(scope="module")
def raw(module_serve):
    """One raw-app server for the tests that only ask it questions (-w 1)."""
    return module_serve("asgi_raw:app")


def raw_request(server, request, head_only=False):
    with server.connect() as s:
        s.sendall(request)
        return read_response(s, head_only=head_only), s.getsockname()


# --- the HTTP scope -------------------------------------------------------------------------

def test_scope_fields_of_a_plain_request(raw):
    """HTTP scope: type, asgi.version "3.0", spec_version 2.x, http_version, method, scheme,
    path percent-decoded, raw_path and query_string as bytes, root_path "", client, server."""
    request = b"GET /scope/caf%C3%A9%20x?q=1&r=%20 HTTP/1.1\r\nHost: example\r\nConnection: close\r\n\r\n"
    (status, _, _, _, body), local = raw_request(raw, request)
    assert status == 200
    scope = json.loads(body)
    assert scope["type"] == "http"
    assert scope["asgi"]["version"] == "3.0"
    assert re.fullmatch(r"2\.\d+", scope["asgi"]["spec_version"])
    assert scope["http_version"] == "1.1"
    assert scope["method"] == "GET"
    assert scope["scheme"] == "http"
    assert scope["path"] == "/scope/café x"
    assert (scope["raw_path"], scope["raw_path_type"]) == ("/scope/caf%C3%A9%20x", "bytes")
    assert (scope["query_string"], scope["query_string_type"]) == ("q=1&r=%20", "bytes")
    assert scope["root_path"] == ""
    assert scope["client"] == [local[0], local[1]]
    assert scope["server"] == ["127.0.0.1", raw.port]


def test_headers_are_lower_cased_bytes_with_duplicates_in_order(raw):
    """HTTP scope `headers`: [name, value] byte pairs, names lower-cased, values as sent, each
    duplicate its own pair (not joined) and the values of one name in the order received. (The
    spec leaves the order of different names free; uvicorn keeps the request's order.)"""
    request = (b"GET /scope HTTP/1.1\r\nHost: example\r\nX-Dup: first\r\nX-Mixed-Case: Value Kept\r\n"
               b"x-dup: second\r\nAccept: */*\r\nX-DUP: third\r\nConnection: close\r\n\r\n")
    (status, _, _, _, body), _ = raw_request(raw, request)
    scope = json.loads(body)
    assert scope["headers_are_bytes"] is True
    by_name = {}
    for name, value in scope["headers"]:
        by_name.setdefault(name, []).append(value)
    assert by_name == {"host": ["example"], "x-dup": ["first", "second", "third"], "x-mixed-case": ["Value Kept"],
                       "accept": ["*/*"], "connection": ["close"]}


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_method_is_upper_case_as_sent(raw, method):
    """HTTP scope `method`: the request's method, upper-cased."""
    r = requests.request(method, raw.url("/scope"), data=b"x")
    assert r.json()["method"] == method


def test_http_1_0_version(raw):
    """HTTP scope `http_version` "1.0"; a body without Content-Length on HTTP/1.0 is not chunked
    (HTTP/1.0 has no chunked coding): it ends with the connection."""
    (status, _, _, _, body), _ = raw_request(raw, b"GET /scope HTTP/1.0\r\nHost: x\r\n\r\n")
    assert json.loads(body)["http_version"] == "1.0"
    (status, _, headers, _, body), _ = raw_request(raw, b"GET /nolength HTTP/1.0\r\nHost: x\r\n\r\n")
    assert status == 200 and body == b"no length!"
    if not REFERENCE:  # uvicorn 0.17.6 (httptools) sends chunked to an HTTP/1.0 client: RFC 9112 7.1 forbids it
        assert "transfer-encoding" not in headers


def test_root_path_setting(asgi_serve):
    """HTTP scope `root_path`: the --root-path setting."""
    server = asgi_serve("asgi_raw:app", "--root-path", "/api/v1")
    assert get_json(server, "/scope/x")["root_path"] == "/api/v1"


def test_https_scheme_over_tls(asgi_serve, pki):
    """HTTP scope `scheme` "https" over TLS (--certfile/--keyfile)."""
    server = asgi_serve("asgi_raw:app", "--certfile", str(pki / "server.pem"), "--keyfile", str(pki / "server.key"),
                        ready="log")
    deadline = time.monotonic() + 20
    while True:
        try:
            r = requests.get("https://127.0.0.1:%d/scope" % server.port, verify=str(pki / "ca.pem"), timeout=5)
            break
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    assert r.json()["scheme"] == "https"


def test_trusted_proxy_headers_set_scheme_and_client(raw):
    """HTTP scope `scheme` and `client` from X-Forwarded-Proto/For when the peer is in
    --forwarded-allow-ips (default 127.0.0.1)."""
    scope = get_json(raw, "/scope", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
    assert scope["scheme"] == "https"
    assert scope["client"][0] == "203.0.113.9"


def test_untrusted_proxy_headers_are_ignored(asgi_serve):
    """--forwarded-allow-ips not matching the peer: the proxy headers change nothing."""
    server = asgi_serve("asgi_raw:app", "--forwarded-allow-ips", "10.9.9.9")
    scope = get_json(server, "/scope", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
    assert scope["scheme"] == "http"
    assert scope["client"][0] == "127.0.0.1"


@narwhal_only("uvicorn 0.17.6 predates the lifespan state extension (uvicorn 0.21)")
def test_state_is_a_shallow_copy_of_the_lifespan_state(asgi_serve):
    """HTTP scope `state`: a shallow copy of what lifespan startup put in its state, per request:
    a key a request adds is gone for the next one, a mutable value is the same object."""
    server = asgi_serve("asgi_raw:app")
    first = get_json(server, "/scope/one")
    second = get_json(server, "/scope/two")
    assert first["state"]["token"] == "from-startup"
    assert "request_only" not in first["state"] and "request_only" not in second["state"]
    # The ready probe went to /__ready__, not /scope: only our two requests appended.
    assert second["state"]["shared"] == ["/scope/one", "/scope/two"]


# --- request bodies -------------------------------------------------------------------------

def test_one_mib_upload_arrives_in_several_messages(raw):
    """http.request messages: a 1 MiB body arrives in more than one message, each but the last
    with more_body=True, none of them the whole body."""
    payload = bytes(range(256)) * 4096
    r = requests.post(raw.url("/upload"), data=payload, timeout=30)
    report = r.json()
    assert report["size"] == len(payload) and report["sha256"] == hashlib.sha256(payload).hexdigest()
    assert report["messages"] > 1 and report["largest"] < len(payload)
    assert report["more_body_then_final"] is True


def test_chunked_upload_is_streamed_to_the_app(raw):
    """http.request messages for a chunked (Transfer-Encoding) upload sent in pieces over time."""
    pieces = [b"%d:" % i + b"z" * 5000 for i in range(10)]
    with raw.connect() as s:
        s.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        for piece in pieces:
            s.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            time.sleep(0.02)
        s.sendall(b"0\r\n\r\n")
        status, _, _, _, body = read_response(s)
    report = json.loads(body)
    whole = b"".join(pieces)
    assert status == 200 and report["size"] == len(whole)
    assert report["sha256"] == hashlib.sha256(whole).hexdigest()
    assert report["messages"] > 1 and report["more_body_then_final"] is True


def test_a_large_upload_is_never_whole_in_the_worker(asgi_serve):
    """Request body 'never the whole body in memory' (issue 14): 256 MiB streamed through an app
    that hashes it raise the worker's peak memory by far less than the body. (The peak does
    grow, by 30-60 MiB here, WSGI alike: buffers and allocator arenas, not the body.)"""
    server = asgi_serve("asgi_raw:app", "-w", "1")
    worker = server.workers()[0]
    hwm = lambda: int(next(l.split()[1] for l in open("/proc/%d/status" % worker) if l.startswith("VmHWM:")))
    requests.post(server.url("/upload"), data=b"warm" * 1000)
    before = hwm()
    size = 256 << 20

    def body():
        block = b"b" * (1 << 20)
        for _ in range(256):
            yield block

    report = requests.post(server.url("/upload"), data=body(), timeout=60).json()
    assert report["size"] == size
    assert hwm() - before < 128 * 1024, "peak RSS grew by %d KiB" % (hwm() - before)


# --- disconnects ----------------------------------------------------------------------------

def test_client_leaving_is_delivered_as_http_disconnect(raw, module_markers):
    """http.disconnect: receive() after the body returns it once the client closes."""
    s = raw.connect()
    s.sendall(b"GET /wait-disconnect HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.3)
    s.close()
    assert read_marker(module_markers, "disconnect") == ["http.disconnect"]


@narwhal_only("uvicorn 0.17.6 ignores a send() after the client left (spec 2.4 asks for an OSError)")
def test_send_after_the_client_left_raises_oserror(raw, module_markers):
    """HTTP 2.4: send() after the client disconnected raises an OSError subclass."""
    s = raw.connect()
    s.sendall(b"GET /send-after-disconnect HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.3)
    s.close()
    assert read_marker(module_markers, "late-send")[0].startswith("OSError")


@narwhal_only("--asgi-disconnect-grace-period is Gunicorn 26's setting; uvicorn has none")
def test_a_task_outliving_its_client_is_cancelled_after_the_grace_period(asgi_serve, markers):
    """--asgi-disconnect-grace-period: a task that never reads is cancelled that long after its
    client left, and CancelledError reaches the app."""
    server = asgi_serve("asgi_raw:app", "--asgi-disconnect-grace-period", "1")  # an integer, as Gunicorn's
    s = server.connect()
    s.sendall(b"GET /ignore-disconnect HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.3)
    s.close()
    assert read_marker(markers, "ignored", timeout=6) == ["cancelled"]


# --- responses ------------------------------------------------------------------------------

def test_streaming_response_is_chunked_and_arrives_piece_by_piece(raw):
    """http.response.body with more_body: no Content-Length -> chunked on HTTP/1.1, each part
    sent when the app sends it (not buffered to the end)."""
    with requests.get(raw.url("/stream?n=3&delay=0.4"), stream=True, timeout=10) as r:
        assert r.headers.get("transfer-encoding") == "chunked" and "content-length" not in r.headers
        arrivals = []
        for piece in r.iter_content(None):
            arrivals.append((time.monotonic(), piece))
    assert b"".join(p for _, p in arrivals) == b"chunk 0\nchunk 1\nchunk 2\n"
    first = next(t for t, p in arrivals if b"chunk 0" in p)
    assert arrivals[-1][0] - first >= 0.6  # chunk 0 came ~0.8 s before the end


def test_content_length_from_the_app_is_honoured(raw):
    """A Content-Length in http.response.start: sent as such, body in two sends, not chunked."""
    (status, _, headers, _, body), _ = raw_request(raw, b"GET /length HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert (status, body) == (200, b"helloworld")
    assert headers["content-length"] == "10" and "transfer-encoding" not in headers


def test_no_length_on_http_1_1_is_chunked(raw):
    """No Content-Length from the app on HTTP/1.1: Transfer-Encoding: chunked."""
    (status, _, headers, _, body), _ = raw_request(raw, b"GET /nolength HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert (status, body) == (200, b"no length!") and headers["transfer-encoding"] == "chunked"


def test_head_sends_headers_without_the_body_and_keeps_the_connection(raw):
    """HEAD: the app's headers (Content-Length 10) without its body; the next request on the
    same connection is answered normally."""
    with raw.connect() as s:
        f = s.makefile("rb")
        s.sendall(b"HEAD /length HTTP/1.1\r\nHost: x\r\n\r\nGET /length HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _, headers, _, body = read_response(f, head_only=True)
        assert (status, headers["content-length"], body) == (200, "10", b"")
        status, _, _, _, body = read_response(f)
        assert (status, body) == (200, b"helloworld")


def test_app_raising_before_the_response_gets_500_and_the_worker_lives(raw):
    """An exception before http.response.start: a 500, the traceback in the error log, the same
    worker serves the next request."""
    pid = requests.get(raw.url("/pid")).text
    r = requests.get(raw.url("/raise-before"))
    assert r.status_code == 500
    wait_for(lambda: "RuntimeError: boom-before" in raw.log, 5, "the traceback")
    assert "Traceback (most recent call last)" in raw.log
    assert requests.get(raw.url("/pid")).text == pid


def test_app_returning_without_a_response_gets_500(raw):
    """An app that returns without http.response.start: a 500 (uvicorn's answer)."""
    assert requests.get(raw.url("/no-response")).status_code == 500
    assert requests.get(raw.url("/pid")).ok


def test_the_head_goes_out_when_the_app_waits_before_its_body(raw):
    """http.response.start then a long wait (server-sent events): the client has the status and
    headers at once, not with the first body."""
    with raw.connect(timeout=5) as s:
        began = time.monotonic()
        s.sendall(b"GET /head-first?delay=1.5 HTTP/1.1\r\nHost: x\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(65536)
            assert chunk, head
            head += chunk
        arrived = time.monotonic() - began
    assert head.startswith(b"HTTP/1.1 200") and b"text/event-stream" in head.lower()
    assert arrived < 1.0, "the head came with the body, %.2f s after the request" % arrived


def test_app_raising_after_the_response_started_closes_the_connection(raw):
    """An exception after http.response.start: the response cannot be changed, so the
    connection is closed before the chunked body's end; the traceback is logged; the worker
    lives on."""
    with raw.connect() as s:
        s.sendall(b"GET /raise-after HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except ConnectionResetError:
            pass  # the abort may end in a reset rather than a FIN: closed all the same (as WSGI)
    assert not data or data.startswith(b"HTTP/1.1 200")
    assert not data.endswith(b"0\r\n\r\n")  # no last chunk: the client knows the body is cut
    wait_for(lambda: "RuntimeError: boom-after" in raw.log, 5, "the traceback")
    assert requests.get(raw.url("/pid")).ok


# --- concurrency ----------------------------------------------------------------------------

def test_200_concurrent_sleeping_requests_on_one_worker_finish_together(asgi_serve):
    """One event loop serves many requests at once: 200 requests that each await
    asyncio.sleep(0.3) on -w 1 end together, not one after the other (60 s)."""
    server = asgi_serve("asgi_raw:app", "-w", "1")
    began = time.monotonic()
    statuses = asyncio.run(many_at_once(server.port, "/sleep?s=0.3", 200))
    elapsed = time.monotonic() - began
    assert statuses == [b"HTTP/1.1 200 OK"] * 200
    assert elapsed < 5, "200 x 0.3 s took %.1f s" % elapsed


@narwhal_only("UvicornWorker does not pass --worker-connections to uvicorn")
def test_worker_connections_bounds_concurrent_connections(asgi_serve):
    """--worker-connections: at most that many connections at once per worker; the rest wait
    and are served after (none refused)."""
    server = asgi_serve("asgi_raw:app", "-w", "1", "--worker-connections", "10")
    began = time.monotonic()
    statuses = asyncio.run(many_at_once(server.port, "/sleep?s=0.5", 30))
    assert statuses == [b"HTTP/1.1 200 OK"] * 30
    assert time.monotonic() - began >= 1.4  # three rounds of ten, not one of thirty


# --- the event loop -------------------------------------------------------------------------

@pytest.mark.parametrize("loop, expected", [("auto", "uvloop."), ("uvloop", "uvloop."), ("asyncio", "asyncio.")])
def test_asgi_loop_setting(asgi_serve, loop, expected):
    """--asgi-loop: auto is uvloop when importable (Debian's python3-uvloop), else asyncio."""
    server = asgi_serve("asgi_raw:app", "--asgi-loop", loop)
    assert requests.get(server.url("/loop")).text.startswith(expected)


@narwhal_only("Narwhal's own setting validation")
@pytest.mark.parametrize("flag, allowed", [("--asgi-loop", "auto, asyncio, uvloop"),
                                           ("--asgi-lifespan", "auto, on, off")])
def test_bad_asgi_setting_values_name_the_setting(flag, allowed):
    """Bad input names the setting and the allowed values (exit 2, usage error)."""
    r = run_narwhal("-k", "asgi", flag, "sometimes", "asgi_raw:app", cwd=ASGI_APPS)
    assert r.returncode == 2 and flag in r.stderr and allowed in r.stderr, r.stderr


# --- lifespan -------------------------------------------------------------------------------

def test_lifespan_startup_runs_before_the_first_request_and_shutdown_at_stop(asgi_serve, markers):
    """Lifespan 2.0: startup completes before any request reaches the app (the app's startup
    sleeps 0.3 s); shutdown runs at TERM; exit 0."""
    server = asgi_serve("asgi_raw:app", "-w", "1", ready="log")
    deadline = time.monotonic() + 20
    while True:  # the first answer, however early it is asked for
        try:
            body = requests.get(server.url("/started"), timeout=10).text
            break
        except requests.ConnectionError:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    assert body == "started=True"
    pid = str(server.workers()[0])
    assert read_marker(markers, "startup") == [pid]
    assert server.stop() == 0
    assert read_marker(markers, "shutdown") == [pid]


def test_lifespan_startup_failed_stops_the_master_with_exit_3(markers):
    """lifespan.startup.failed: the worker exits 3 (boot error), its message is logged, the
    master stops with 3 as for any boot failure."""
    code, out = run_target("-w", "2", "lifespan_fail:failed", timeout=40)
    assert code == 3, out
    assert "database unreachable at startup" in out


def test_lifespan_on_with_a_raising_app_stops_the_master_with_exit_3(markers):
    """--asgi-lifespan on: an exception in the lifespan scope is a startup failure (exit 3)."""
    code, out = run_target("--asgi-lifespan", "on", "lifespan_fail:raising", timeout=40, markers_dir=markers)
    assert code == 3, out
    assert "ValueError: this app only speaks http" in out


def test_lifespan_auto_serves_an_app_that_raises_on_lifespan(asgi_serve, markers):
    """--asgi-lifespan auto (the default): an app raising on the lifespan scope (Django 3.2 does)
    is served without lifespan, with one info line and no traceback."""
    server = asgi_serve("lifespan_fail:raising")
    assert requests.get(server.url("/")).text == "ok"
    assert read_marker(markers, "lifespan-called") == ["lifespan"]
    lines = [l for l in server.log.splitlines() if "lifespan" in l.lower()]
    assert len(lines) == 1 and "[INFO]" in lines[0], server.log
    assert "Traceback" not in server.log


def test_lifespan_off_never_calls_the_app_with_lifespan(asgi_serve, markers):
    """--asgi-lifespan off: no lifespan scope at all; requests are served."""
    server = asgi_serve("asgi_raw:app", "--asgi-lifespan", "off")
    assert requests.get(server.url("/started")).text == "started=False"
    server.stop()
    assert not (markers / "startup").exists() and not (markers / "shutdown").exists()


# --- the worker class names -----------------------------------------------------------------

@pytest.mark.parametrize("how", ["-k uvicorn.workers.UvicornWorker", "--worker-class=asgi", "config asgi",
                                 "config uvicorn.workers.UvicornWorker"])
def test_worker_class_spellings(asgi_serve, tmp_path, how):
    """`-k asgi`, `--worker-class asgi`, `worker_class = "asgi"` in a config file, and uvicorn's
    class name are the same worker."""
    if how.startswith("config"):
        value = how.split()[1]
        if REFERENCE and value == "asgi":
            value = "refworker.Worker"
        conf = tmp_path / "gunicorn.conf.py"
        conf.write_text("worker_class = %r\n" % value)
        args = ["-c", str(conf)]
    else:
        args = how.replace("=", " ").split()
    server = asgi_serve("asgi_raw:app", *args, worker_class=False)
    assert requests.get(server.url("/loop")).ok


# --- edge features shared with WSGI ---------------------------------------------------------

@narwhal_only("uvicorn has no HTTP/2")
def test_h2c_prior_knowledge_gives_http_version_2(asgi_serve):
    """HTTP scope `http_version` "2" over cleartext HTTP/2 (--http-protocols h2), with a body."""
    server = asgi_serve("asgi_raw:app", "--http-protocols", "h2")
    r = subprocess.run(["curl", "-s", "--http2-prior-knowledge", server.url("/scope")], capture_output=True, timeout=20)
    assert json.loads(r.stdout)["http_version"] == "2"
    r = subprocess.run(["curl", "-s", "--http2-prior-knowledge", "--data-binary", "x" * 100000, server.url("/upload")],
                       capture_output=True, timeout=20)
    assert json.loads(r.stdout)["size"] == 100000


@narwhal_only("uvicorn has no PROXY protocol")
def test_proxy_protocol_sets_the_client(asgi_serve):
    """HTTP scope `client` from a PROXY protocol v1 header (--proxy-protocol)."""
    server = asgi_serve("asgi_raw:app", "--proxy-protocol", "--proxy-allow-from", "127.0.0.1", ready="log")
    time.sleep(1)
    with server.connect() as s:
        s.sendall(b"PROXY TCP4 203.0.113.7 192.0.2.1 5555 80\r\nGET /scope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        status, _, _, _, body = read_response(s)
    assert json.loads(body)["client"] == ["203.0.113.7", 5555]


@narwhal_only("UvicornWorker ignores Gunicorn's request limits")
def test_limit_request_line_answers_400_before_the_app(asgi_serve, markers):
    """--limit-request-line: a longer request line is answered 400 by the edge (Gunicorn's
    LimitRequestLine, as the WSGI worker), never reaching the app."""
    server = asgi_serve("asgi_raw:app", "--limit-request-line", "100")
    r = requests.get(server.url("/scope/" + "a" * 200))
    assert r.status_code == 400


@narwhal_only("uvicorn writes its own access line, not Gunicorn's atoms")
def test_access_log_atoms(asgi_serve, tmp_path):
    """Access log atoms as for WSGI: method, path, query, status, body size, protocol."""
    log = tmp_path / "access.log"
    server = asgi_serve("asgi_raw:app", "--access-logfile", str(log),
                        "--access-logformat", "%(m)s %(U)s %(q)s %(s)s %(B)s %(H)s")
    requests.get(server.url("/length?a=1"))
    wait_for(lambda: log.exists() and "GET /length" in log.read_text(), 5, "the access line")
    assert "GET /length a=1 200 10 HTTP/1.1" in log.read_text().splitlines()
