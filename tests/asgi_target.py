"""The server the ASGI tests drive: Narwhal `-k asgi` on Debian's interpreter (the default), or
the reference, Gunicorn + uvicorn (`gunicorn -k uvicorn.workers.UvicornWorker`), with
NARWHAL_ASGI_REFERENCE=uvicorn. The reference run shows each test is right before Narwhal
passes it; Narwhal's ASGI flags are mapped to uvicorn's settings, and tests of what only
Narwhal offers are skipped there (`narwhal_only`)."""

import asyncio
import base64
import json
import os
import socket
import struct
import subprocess
import time
from pathlib import Path

import pytest

from conftest import APPS, BINARY, DEBIAN_PYTHON, Server, free_port
from procs import children, workers

ASGI_APPS = APPS / "asgi"
GUNICORN = "/usr/bin/gunicorn"  # Debian's 20.1, on Debian's python3 (its #! line)
REFERENCE = os.environ.get("NARWHAL_ASGI_REFERENCE", "") == "uvicorn"
if os.environ.get("NARWHAL_ASGI_REFERENCE", "") not in ("", "uvicorn"):
    raise SystemExit("NARWHAL_ASGI_REFERENCE: allowed values are 'uvicorn' or unset")


def narwhal_only(reason):
    """Skips a test in reference mode: `reason` says what uvicorn 0.17.6 lacks or does otherwise."""
    return pytest.mark.skipif(REFERENCE, reason="Narwhal only: " + reason)


# Narwhal's ASGI flags -> (uvicorn Config keyword, value converter).
_UVICORN_SETTINGS = {
    "--asgi-loop": ("loop", str),
    "--asgi-lifespan": ("lifespan", str),
    "--root-path": ("root_path", str),
    "--ws-max-size": ("ws_max_size", int),
    # 0 turns pings off in Narwhal; uvicorn's "off" is None (0 would ping without pause).
    "--ws-ping-interval": ("ws_ping_interval", lambda v: float(v) or None),
    "--ws-ping-timeout": ("ws_ping_timeout", float),
}
_WORKER_CLASS_FLAGS = ("-k", "--worker-class")


def reference_command(args):
    """Gunicorn's argv and the uvicorn settings for Narwhal's `args`."""
    argv, settings, rest = [], {}, list(args)
    while rest:
        flag = rest.pop(0)
        name, eq, inline = flag.partition("=")
        if name in _UVICORN_SETTINGS:
            key, convert = _UVICORN_SETTINGS[name]
            settings[key] = convert(inline if eq else rest.pop(0))
        elif name in _WORKER_CLASS_FLAGS:
            value = inline if eq else rest.pop(0)
            argv += ["-k", "refworker.Worker" if value in ("asgi", "uvicorn.workers.UvicornWorker") else value]
        elif name == "--python":
            if not eq:
                rest.pop(0)
        else:
            argv.append(flag)
    # The script, not `python3 -m gunicorn`: USR2 re-runs argv, and gunicorn/__main__.py as a
    # script puts the gunicorn package first on sys.path, where gunicorn/http shadows http.
    return [GUNICORN, *argv], settings


class AsgiServer(Server):
    """Server (conftest) around any command line: Narwhal's or the reference's."""

    def __init__(self, command, cwd, env, port, log_path, ready):
        self.port = port
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        if ready:
            self.wait_ready()
            if ready == "http":
                self.wait_answering()

    def wait_answering(self, timeout=30):
        """Until an HTTP answer comes (lifespan startup may still run after "Booting worker")."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with self.connect(timeout=5) as s:
                    s.sendall(b"GET /__ready__ HTTP/1.1\r\nHost: ready\r\nConnection: close\r\n\r\n")
                    if s.recv(16).startswith(b"HTTP/"):
                        return
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise AssertionError("the server exited with %s:\n%s" % (self.proc.returncode, self.log))
            time.sleep(0.1)
        raise AssertionError("no HTTP answer in %ss:\n%s" % (timeout, self.log))

    def workers(self):
        # Gunicorn 20.1 without setproctitle leaves titles alone: every child is a worker.
        return sorted(children(self.pid)) if REFERENCE else workers(self.pid)

    def ws_url(self, path="/"):
        return "ws://127.0.0.1:%d%s" % (self.port, path)


def command_for(args, port, bind=True, worker_class=True):
    """(argv, extra environment) starting the target with Narwhal's `args`."""
    args = list(args)
    if worker_class:
        args = ["-k", "asgi", *args]
    if bind:
        args = ["-b", "127.0.0.1:%d" % port, *args]
    if REFERENCE:
        argv, settings = reference_command(args)
        return argv, {"NARWHAL_REF_UVICORN": json.dumps(settings)}
    return [str(BINARY), "--python", DEBIAN_PYTHON, *args], {}


class Launcher:
    """Starts target servers whose logs go to `folder` and whose apps mark into `markers`."""

    def __init__(self, folder, markers):
        self.folder, self.markers, self.started = Path(folder), Path(markers), []

    def start(self, app, *args, cwd=ASGI_APPS, env=None, ready="http", worker_class=True, bind=True):
        port = free_port()
        argv, extra = command_for(list(args) + ([app] if app else []), port, bind, worker_class)
        full_env = dict(os.environ)
        full_env.pop("VIRTUAL_ENV", None)
        full_env.update(extra)
        # The apps import their helpers (markers.py) from this folder whatever the cwd.
        full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ASGI_APPS), full_env.get("PYTHONPATH")]))
        full_env["ASGI_MARKERS"] = str(self.markers)
        full_env.update(env or {})
        server = AsgiServer(argv, cwd, full_env, port, self.folder / ("server-%d.log" % len(self.started)), ready)
        self.started.append(server)
        return server

    def stop_all(self):
        for server in self.started:
            server.stop()


@pytest.fixture
def markers(tmp_path):
    """The folder the apps write their marker files into (ASGI_MARKERS)."""
    folder = tmp_path / "markers"
    folder.mkdir()
    return folder


@pytest.fixture
def asgi_serve(tmp_path, markers):
    """asgi_serve(app, *narwhal_args, cwd=ASGI_APPS, env=None, ready="http"|"log"|False,
    worker_class=True) -> AsgiServer, stopped at teardown. ready="http" waits for an HTTP answer
    (one GET /__ready__ reaches the app), "log" for "Booting worker" only."""
    launcher = Launcher(tmp_path, markers)
    yield launcher.start
    launcher.stop_all()


@pytest.fixture(scope="module")
def module_markers(tmp_path_factory):
    return tmp_path_factory.mktemp("module-markers")


@pytest.fixture(scope="module")
def module_serve(tmp_path_factory, module_markers):
    """asgi_serve for servers that a module's tests share (each starts in ~1 s); their marks go
    to module_markers, so tests sharing one use marker names of their own."""
    launcher = Launcher(tmp_path_factory.mktemp("module-servers"), module_markers)
    yield launcher.start
    launcher.stop_all()


def run_target(*args, cwd=ASGI_APPS, env=None, timeout=60, markers_dir=None, bind=True):
    """Runs the target to completion (exit codes and messages): (returncode, output)."""
    argv, extra = command_for(args, free_port(), bind)
    full_env = dict(os.environ)
    full_env.pop("VIRTUAL_ENV", None)
    full_env.update(extra)
    full_env["PYTHONPATH"] = str(ASGI_APPS)
    if markers_dir:
        full_env["ASGI_MARKERS"] = str(markers_dir)
    full_env.update(env or {})
    r = subprocess.run(argv, cwd=cwd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=timeout)
    return r.returncode, r.stdout


def read_marker(folder, name, timeout=10):
    """The lines of marker `name` once it exists (waits for it)."""
    path = Path(folder) / name
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().endswith("\n"):
            return path.read_text().splitlines()
        time.sleep(0.05)
    raise AssertionError("marker %s not written in %ss" % (name, timeout))


def get_json(server, target, **kw):
    import requests
    r = requests.get(server.url(target), timeout=10, **kw)
    assert r.status_code == 200, (r.status_code, r.text)
    return r.json()


def run(coro, timeout=30):
    return asyncio.run(asyncio.wait_for(coro, timeout))


class RawWebSocket:
    """A WebSocket client over a plain socket, for what a polite client library will not do:
    an empty close frame (1005), a dropped connection (1006), ignoring the server's pings."""

    def __init__(self, port, path="/echo"):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (path, port, key)).encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            data = self.sock.recv(4096)
            if not data:
                raise AssertionError("closed during the handshake: %r" % self.buffer)
            self.buffer += data
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        self.status = int(head.split(b" ")[1])

    def send_frame(self, opcode, payload=b""):
        mask = os.urandom(4)
        header = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", n)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def _need(self, n):
        while len(self.buffer) < n:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError
            self.buffer += data
        taken, self.buffer = self.buffer[:n], self.buffer[n:]
        return taken

    def read_frame(self):
        """(opcode, payload); EOFError when the server closed the TCP connection."""
        first, second = self._need(2)
        n = second & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._need(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._need(8))[0]
        return first & 0x0F, self._need(n)

    def close(self):
        self.sock.close()
