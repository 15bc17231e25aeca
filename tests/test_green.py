"""-k gevent and -k eventlet: WSGI apps on a green hub, one greenlet per request, the
interpreter monkey-patched before the config file, the hooks and the app. Concurrency on one
worker (patched time.sleep, the libraries' own sleep, outbound HTTP), per-request isolation in
Flask, streaming and files, uploads beside sleepers, --worker-connections, --timeout for a
stuck hub, hooks and their order, the process model under load, the tutorials' commands,
errors, a missing library, the access log. Apps: tests/apps/green/."""

import concurrent.futures
import hashlib
import http.server
import json
import os
import re
import signal
import socket
import textwrap
import threading
import time

import pytest
import requests

from conftest import APPS, DEBIAN_PYTHON, Server, free_port, read_response, run_narwhal
from procs import Load, alive, assert_no_failures, wait_for, workers
from pythons import PYENV_MINORS, ask, interpreter

GREEN = APPS / "green"
LIBRARIES = ("gevent", "eventlet")
LOAD_SECONDS = 3


_started = []


@pytest.fixture(autouse=True)
def _stop_servers():
    """Whatever a test started is stopped when it ends, however it ends."""
    yield
    while _started:
        _started.pop().stop()


def start(tmp_path, library, *args, app="greenapp:app", cwd=GREEN, env=None, name="server", bind=True, owned=True):
    """A narwhal master with `-k library` on Debian's Python; returns once a worker answers.
    Stopped at the end of the test unless owned is False (the caller stops it)."""
    port = free_port()
    argv = (["-k", library] if library else []) + list(args) + ["--python", DEBIAN_PYTHON]
    if bind:
        argv += ["-b", "127.0.0.1:%d" % port]
    full_env = dict(os.environ)
    full_env.pop("VIRTUAL_ENV", None)
    full_env.update(env or {})
    server = Server(argv + [app], cwd, full_env, port, tmp_path / ("%s-%s.log" % (name, library)), ready=False)
    if owned:
        _started.append(server)
    try:
        server.wait_ready()
        if bind:
            wait_until_answering(server)
    except BaseException:
        server.stop()
        raise
    return server


def wait_until_answering(server, timeout=30, path="/pid"):
    try:
        wait_for(lambda: _answers(server, path), timeout, "a worker to answer")
    except AssertionError as e:
        raise AssertionError("%s:\n%s" % (e, server.log)) from None


def _answers(server, path="/pid"):
    if server.proc.poll() is not None:
        raise AssertionError("narwhal exited with %s:\n%s" % (server.proc.returncode, server.log))
    try:
        return requests.get(server.url(path), timeout=5).ok
    except requests.RequestException:
        return False


@pytest.fixture(scope="module", params=LIBRARIES)
def green(request, tmp_path_factory):
    """One worker of each library, shared by the tests that leave it as it was."""
    server = start(tmp_path_factory.mktemp("green"), request.param, "-w", "1", "--access-logfile", "-", owned=False)
    server.library = request.param
    yield server
    server.stop()


@pytest.fixture(params=LIBRARIES)
def library(request):
    return request.param


def get(server, path, timeout=30, **kw):
    return requests.get(server.url(path), timeout=timeout, **kw)


def fire(port, targets, timeout=30):
    """Sends one GET per target, each on its own connection (Connection: close), all before
    reading any answer; returns [(status, body, seconds from the send to the answer)] in order."""
    socks = []
    for target in targets:
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        s.sendall(("GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" % target).encode())
        socks.append((s, time.monotonic()))
    answers = []
    for s, sent in socks:
        with s:
            got = read_response(s)
        answers.append((got[0], got[4], time.monotonic() - sent) if got else (None, b"", time.monotonic() - sent))
    return answers


def peak(server):
    return int(get(server, "/peak").text)


# ---------------------------------------------------------------- 1-3: concurrency on one worker

@pytest.mark.parametrize("how", ["time", "green"])
def test_200_sleeping_requests_finish_together_on_one_worker(green, how):
    """200 requests that each sleep 0.3 s (the patched time.sleep, or gevent.sleep /
    eventlet.sleep) on one worker: together in well under 200 * 0.3 s; the app saw most of
    them inside at once."""
    assert get(green, "/library").text == "%s False" % green.library  # patched; wsgi.multithread False
    peak(green)
    began = time.monotonic()
    answers = fire(green.port, ["/sleep?s=0.3&how=%s" % how] * 200)
    elapsed = time.monotonic() - began
    assert [a[:2] for a in answers] == [(200, b"slept 0.3")] * 200
    assert elapsed < 3, elapsed
    assert peak(green) >= 100


class SlowUpstream(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512


class SlowHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep(0.5)
        body = self.path.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def upstream():
    server = SlowUpstream(("127.0.0.1", 0), SlowHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield "http://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()
    server.server_close()


def test_100_outbound_requests_calls_to_a_slow_upstream_overlap(green, upstream):
    """100 requests whose app calls requests.get() on an upstream that takes 0.5 s each: the
    patched sockets let them wait together (50 s one after another)."""
    began = time.monotonic()
    answers = fire(green.port, ["/fetch?url=%s/n%d" % (upstream, i) for i in range(100)])
    elapsed = time.monotonic() - began
    assert [a[:2] for a in answers] == [(200, b"upstream said /n%d" % i) for i in range(100)]
    assert elapsed < 4, elapsed


def test_flask_g_and_threading_local_stay_per_request_under_load(green):
    """200 concurrent Flask requests each put their own value in flask.g and a threading.local,
    sleep (patched time.sleep, so the others run meanwhile), and get their own value back."""
    began = time.monotonic()
    answers = fire(green.port, ["/flask/echo?v=tag-%d&s=0.3" % i for i in range(200)])
    elapsed = time.monotonic() - began
    assert all(a[0] == 200 for a in answers), answers[:3]
    bodies = [json.loads(a[1]) for a in answers]
    for i, body in enumerate(bodies):
        value = "tag-%d" % i
        assert (body["sent"], body["g"], body["local"], body["arg"]) == (value,) * 4, body
    assert elapsed < 4, elapsed  # they overlapped: the isolation was tested under interleaving


# ---------------------------------------------------------------- 4-5: streaming, files, uploads

def test_a_streamed_response_reaches_the_client_chunk_by_chunk(green):
    """A generator yielding 4 chunks 0.4 s apart: the first reaches the client before the last
    is produced; the body is whole."""
    received = []
    with get(green, "/stream?n=4&gap=0.4", stream=True) as r:
        assert r.status_code == 200 and r.headers.get("Transfer-Encoding") == "chunked"
        for data in r.iter_content(None):
            received.append((time.time(), data))
    body = b"".join(data for _, data in received)
    lines = body.decode().splitlines()
    assert [line.split(" produced")[0] for line in lines] == ["chunk %d" % i for i in range(4)]
    last_produced = float(lines[-1].rsplit(" ", 1)[1])
    assert received[0][0] < last_produced - 0.5, (received[0][0], last_produced)


def test_file_wrapper_sends_a_real_file_intact(green, tmp_path):
    """wsgi.file_wrapper over a 3 MB file: Content-Length as the app set it, every byte."""
    data = os.urandom(3 * 1024 * 1024 + 123)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    r = get(green, "/file?path=%s" % path)
    assert r.status_code == 200
    assert r.headers["Content-Length"] == str(len(data))
    assert hashlib.sha256(r.content).hexdigest() == hashlib.sha256(data).hexdigest()


def test_a_5mb_upload_read_in_pieces_beside_50_sleepers(green):
    """A 5 MB body sent over ~0.5 s, read by the app with read(65536) and readline(), while 50
    requests sleep 1 s: the digest is right and no sleeper is held back by the upload."""
    data = os.urandom(5 * 1024 * 1024)
    result = {}

    def upload():
        with socket.create_connection(("127.0.0.1", green.port), timeout=30) as s:
            s.sendall(b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n"
                      b"Content-Type: application/octet-stream\r\nConnection: close\r\n\r\n" % len(data))
            for i in range(0, len(data), 65536):
                s.sendall(data[i:i + 65536])
                time.sleep(0.006)
            result["answer"] = read_response(s)

    sleepers = [socket.create_connection(("127.0.0.1", green.port), timeout=30) for _ in range(50)]
    sent = time.monotonic()
    for s in sleepers:
        s.sendall(b"GET /sleep?s=1&how=green HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    uploader = threading.Thread(target=upload)
    uploader.start()
    waits = []
    for s in sleepers:
        with s:
            status, _, _, _, body = read_response(s)
        waits.append(time.monotonic() - sent)
        assert (status, body) == (200, b"slept 1.0")
    uploader.join(30)
    status, _, _, _, body = result["answer"]
    info = json.loads(body)
    assert status == 200
    assert (info["size"], info["sha256"]) == (len(data), hashlib.sha256(data).hexdigest())
    assert info["readlines"] > 0 and info["reads"] > 80
    assert max(waits) < 1.8, waits


def test_a_chunked_upload_is_read_to_its_end(green):
    """A body without Content-Length (chunked): wsgi.input reads it whole, then b''."""
    parts = [os.urandom(10000) for _ in range(50)]
    r = requests.post(green.url("/upload"), data=iter(parts), timeout=30)
    info = r.json()
    assert (info["size"], info["sha256"]) == (500000, hashlib.sha256(b"".join(parts)).hexdigest())


def test_a_slow_reader_parks_only_its_greenlet_and_a_leaving_client_ends_the_body(green):
    """A 10 MB streamed body to a client that does not read yet: its greenlet waits for the
    flush, 20 sleepers are not held back, then the body arrives whole. A client that leaves
    mid-body ends the app's iterable (close() called, not run to its end), with no error logged."""
    def slow_client(n):
        c = socket.create_connection(("127.0.0.1", green.port), timeout=30)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        c.sendall(b"GET /big?n=%d HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" % n)
        return c

    before = get(green, "/big-ended").json()
    reader = slow_client(160)
    time.sleep(0.3)
    answers = fire(green.port, ["/sleep?s=0.5"] * 20)
    assert [a[:2] for a in answers] == [(200, b"slept 0.5")] * 20
    assert max(a[2] for a in answers) < 1.3, answers
    with reader:
        status, _, headers, _, body = read_response(reader)
    assert status == 200 and len(body) == 160 * 65536
    assert body == b"".join(bytes([i % 251]) * 65536 for i in range(160))

    leaver = slow_client(400)
    leaver.recv(1000)
    time.sleep(0.3)
    leaver.close()
    expected = dict(closed=before["closed"] + 2, finished=before["finished"] + 1)
    wait_for(lambda: get(green, "/big-ended").json() == expected, 10, "the iterable closed: %s" % expected)
    assert "Error handling request /big" not in green.log


# ---------------------------------------------------------------- 11, 13: errors, access log

def test_an_app_error_is_a_500_with_its_traceback_and_the_worker_goes_on(green):
    """An exception in the app: 500, the traceback in the error log, the same worker serves on."""
    before = get(green, "/pid").text
    r = get(green, "/raise")
    assert r.status_code == 500
    wait_for(lambda: "RuntimeError: greenapp was asked to fail" in green.log, 5, "the traceback")
    log = green.log
    assert re.search(r'Traceback \(most recent call last\):\n(.*\n)*?.*greenapp\.py", line \d+, in app\n', log), log
    assert get(green, "/pid").text == before


def test_access_log_default_format_one_line_per_request(green):
    """--access-logfile - with the default format: one line per request, with its status and
    body size (a streamed body's too)."""
    tag = "t%d" % time.monotonic_ns()
    for i in range(5):
        get(green, "/pid?%s=%d" % (tag, i))
    get(green, "/nothing-%s" % tag)
    streamed = get(green, "/stream?n=3&gap=0&%s=s" % tag).content
    pid_len = len(get(green, "/pid").content)

    def lines():
        return [line for line in green.log.splitlines() if tag in line]
    wait_for(lambda: len(lines()) == 7, 5, "7 access log lines")
    found = lines()
    for i in range(5):
        line = "\"GET /pid?%s=%d HTTP/1.1\" 200 %d \"-\" \"python-requests/" % (tag, i, pid_len)
        assert sum(line in f for f in found) == 1, found
    assert sum(re.search(r'^127\.0\.0\.1 - - \[.*\] "GET /nothing-%s HTTP/1\.1" 200 5 "-" "python-requests/' % tag, f)
               is not None for f in found) == 1, found
    assert sum(("\"GET /stream?n=3&gap=0&%s=s HTTP/1.1\" 200 %d " % (tag, len(streamed))) in f for f in found) == 1, found


# ---------------------------------------------------------------- 6: --worker-connections

def test_worker_connections_bounds_the_requests_in_the_app(tmp_path, library):
    """--worker-connections 10, 30 concurrent sleeping requests on one worker: at most 10 are
    in the app at once (the worker stops accepting at its limit, as Gunicorn's async workers
    do: the rest wait in the kernel's queue), and all 30 are answered, in three waves. (The
    threaded worker answers past its limit with 503, as docs/settings.md says of every worker.)"""
    server = start(tmp_path, library, "-w", "1", "--worker-connections", "10")
    peak(server)
    began = time.monotonic()
    answers = fire(server.port, ["/sleep?s=0.5"] * 30)
    elapsed = time.monotonic() - began
    assert [a[:2] for a in answers] == [(200, b"slept 0.5")] * 30, answers
    assert peak(server) == 10
    assert elapsed >= 1.4, elapsed


# ---------------------------------------------------------------- 7: --timeout

# --timeout also bounds a worker's boot (as in Gunicorn): eventlet 0.33's import and
# monkey_patch() take 1-3 s here (4 s and more while the machine is loaded: a gc.collect() per
# lock it greens, dnspython's imports), so its workers get a timeout their boot fits in.
TIMEOUT = {"gevent": 2, "eventlet": 6}


def test_timeout_spares_a_busy_hub_and_replaces_a_stuck_one(tmp_path, library):
    """--timeout 2 (6 for eventlet): 500 greenlets sleeping 2 s past the timeout keep the hub
    ticking (same worker, all answered); then a request spinning in a CPU loop stops it: the
    worker logs that the event loop has not run, where it is stuck (the app's function), exits,
    and a new worker serves."""
    timeout = TIMEOUT[library]
    server = start(tmp_path, library, "-w", "1", "--timeout", str(timeout))
    first = get(server, "/pid").text
    answers = fire(server.port, ["/sleep?s=%d&how=green" % (timeout + 2)] * 500, timeout=60)
    assert [a[:2] for a in answers] == [(200, b"slept %d.0" % (timeout + 2))] * 500
    assert get(server, "/pid").text == first
    assert "The event loop has not run" not in server.log

    stuck = int(first.split("=")[1])
    threading.Thread(target=_quietly, args=(get, server, "/spin"), daemon=True).start()
    wait_for(lambda: not alive(stuck), 15, "the stuck worker to exit")
    wait_until_answering(server, 20)
    assert get(server, "/pid").text != first
    log = server.log
    line = r"\[%d\] \[ERROR\] The event loop has not run for [\d.]+ s, past the %d s timeout" % (stuck, timeout)
    assert re.search(line, log), log
    assert re.search(r'greenapp\.py", line \d+, in spin_forever', log), log


def _quietly(fn, *args, **kw):
    try:
        return fn(*args, **kw)
    except requests.RequestException:
        return None


# ---------------------------------------------------------------- 8: hooks, patching first

HOOKS = """
import os
import socket

worker_class = %(library)r
workers = 1

def note(*words):
    with open(os.environ["GREEN_EVENTS"], "a") as f:
        f.write(" ".join(str(w) for w in words) + "\\n")

def post_fork(server, worker):
    note("post_fork", os.getpid(), socket.socket.__module__ + "." + socket.socket.__name__)

def post_worker_init(worker):
    note("post_worker_init", os.getpid())

def worker_exit(server, worker):
    note("worker_exit", os.getpid(), worker.pid)
"""


def test_hooks_run_in_order_on_a_patched_interpreter(tmp_path, library):
    """worker_class from a config file; post_fork already sees the library's socket class;
    post_fork, then the app's import, then post_worker_init, in the worker; worker_exit at TERM."""
    events = tmp_path / "events"
    conf = tmp_path / "green.conf.py"
    conf.write_text(textwrap.dedent(HOOKS % {"library": library}))
    server = start(tmp_path, None, "-c", str(conf), env={"GREEN_EVENTS": str(events)})
    assert get(server, "/library").text == "%s False" % library
    pid = int(get(server, "/pid").text.split("=")[1])
    assert server.stop() == 0
    lines = [line.split() for line in events.read_text().splitlines()]
    assert [line[:2] for line in lines] == [["post_fork", str(pid)], ["app_import", str(pid)],
                                             ["post_worker_init", str(pid)], ["worker_exit", str(pid)]], lines
    assert lines[0][2].startswith(library + "."), lines[0]  # gevent._socket3.socket, eventlet.greenio.base.GreenSocket
    assert lines[3][2] == str(pid)


# ---------------------------------------------------------------- 9: the process model

def test_hup_ttin_ttou_and_term_under_load_fail_nothing(tmp_path, library):
    """-w 2 under a keep-alive wrk load: HUP (every worker replaced), then TTIN and TTOU (a
    worker added, then one removed), each with zero failed requests; then a graceful TERM
    with 20 requests sleeping 1 s in flight: all answered, the master exits 0."""
    server = start(tmp_path, library, "-w", "2")
    wait_for(lambda: len(workers(server.pid)) == 2, 20, "2 workers")
    old = workers(server.pid)
    load = Load(server.url("/pid"), LOAD_SECONDS)
    time.sleep(1)
    server.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: not any(alive(p) for p in old) and len(workers(server.pid)) == 2, 20, "new workers after HUP")
    assert_no_failures(load.result())  # HUP
    assert not set(workers(server.pid)) & set(old)

    load = Load(server.url("/pid"), LOAD_SECONDS)
    time.sleep(0.5)
    server.proc.send_signal(signal.SIGTTIN)
    wait_for(lambda: len(workers(server.pid)) == 3, 10, "3 workers after TTIN")
    time.sleep(0.8)
    server.proc.send_signal(signal.SIGTTOU)
    wait_for(lambda: len(workers(server.pid)) == 2, 10, "2 workers after TTOU")
    assert_no_failures(load.result())  # TTIN, TTOU

    pool = concurrent.futures.ThreadPoolExecutor(1)
    answers = pool.submit(fire, server.port, ["/sleep?s=1"] * 20)
    time.sleep(0.4)
    server.proc.send_signal(signal.SIGTERM)
    assert [a[:2] for a in answers.result(30)] == [(200, b"slept 1.0")] * 20  # TERM
    assert server.proc.wait(15) == 0


# ---------------------------------------------------------------- 10: the tutorials' commands

def test_django_project_with_worker_class_gevent(tmp_path):
    """`narwhal --worker-class=gevent mysite.wsgi:application` in the Django project."""
    port = free_port()
    env = dict(os.environ)
    env.pop("VIRTUAL_ENV", None)
    server = Server(["--worker-class=gevent", "--python", DEBIAN_PYTHON, "-b", "127.0.0.1:%d" % port,
                     "mysite.wsgi:application"], APPS / "djsite", env, port, tmp_path / "django.log", ready=False)
    _started.append(server)
    server.wait_ready()
    wait_until_answering(server, path="/")
    r = requests.get(server.url("/"))
    assert r.status_code == 200 and r.text.startswith("hello from django, csrf=")
    r = requests.post(server.url("/form/"), data={"name": "narwhal"})
    assert r.json() == {"name": "narwhal", "path": "/form/", "script": ""}
    assert "Using worker: gevent" in server.log


def test_three_gevent_workers_on_a_unix_socket(tmp_path):
    """`narwhal -k gevent -w 3 --bind unix:PATH`: answers over the unix socket, from the workers."""
    path = tmp_path / "narwhal.sock"
    server = start(tmp_path, "gevent", "-w", "3", "--bind", "unix:%s" % path, bind=False)
    wait_for(lambda: len(workers(server.pid)) == 3 and path.exists(), 20, "3 workers and the socket")

    def ask_unix(target):
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(10)
            s.connect(str(path))
            s.sendall(b"GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n" % target)
            return read_response(s)

    wait_for(lambda: _quietly_unix(ask_unix, b"/pid"), 20, "an answer on the socket")
    answers = [ask_unix(b"/pid") for _ in range(20)]
    assert all(a[0] == 200 for a in answers)
    assert {a[4].decode() for a in answers} <= {"pid=%d" % p for p in workers(server.pid)}
    assert ask_unix(b"/library")[4] == b"gevent False"


def _quietly_unix(fn, *args):
    try:
        return fn(*args)
    except OSError:
        return None


# ---------------------------------------------------------------- 12: the library missing

def _python_without(library):
    for minor in reversed(PYENV_MINORS):
        python = interpreter(minor)
        if python is None:
            continue
        if ask(python, "import sysconfig; print(sysconfig.get_config_var('Py_ENABLE_SHARED') or 0)") != "1":
            continue
        if ask(python, "import importlib.util; print(importlib.util.find_spec(%r) is None)" % library) == "True":
            return python
    return None


def test_a_python_without_the_library_fails_to_boot_saying_how_to_install_it(library):
    """The worker cannot patch: it says which library is missing and how to install it; the
    master exits 3 (Gunicorn's 'Worker failed to boot')."""
    python = _python_without(library)
    if python is None:
        pytest.skip("no pyenv CPython with a shared libpython and without %s" % library)
    r = run_narwhal("-k", library, "--python", python, "-b", "127.0.0.1:%d" % free_port(), "hello:app", timeout=60)
    out = r.stdout + r.stderr
    assert r.returncode == 3, out
    assert "the %s worker needs %s" % (library, library) in out, out
    assert "pip install %s" % library in out, out
    assert "No module named '%s'" % library in out, out
