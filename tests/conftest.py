"""Fixtures that run the real Narwhal binary on a free port and talk to it over sockets."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = Path(__file__).resolve().parent / "apps"
# CI clones the repo with shared/ beside it; NARWHAL_SHARED points elsewhere.
SHARED = Path(os.environ.get("NARWHAL_SHARED", ROOT.parent / "shared"))
# The launcher builds it once before the suite starts (tests/run); tests run the binary.
BINARY = Path(os.environ.get("NARWHAL_BIN", ROOT / ".build" / "bin" / "narwhal"))
# Debian's interpreter sees Debian's python3-flask, python3-django...
DEBIAN_PYTHON = "/usr/bin/python3"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A running narwhal process. `log` is what it wrote to stderr so far."""

    def __init__(self, args, cwd, env, port, log_path, ready=True, pass_fds=(), new_session=False, binary=BINARY):
        self.port = port
        self.log_path = log_path
        self._log = open(log_path, "wb")
        # new_session: no controlling terminal, as under systemd or Docker.
        # binary: another build of narwhal (test_wheel.py runs the one pip installed).
        self.proc = subprocess.Popen([str(binary), *args], cwd=cwd, env=env, stdout=self._log,
                                     stderr=subprocess.STDOUT, pass_fds=pass_fds,
                                     start_new_session=new_session)
        if ready:
            self.wait_ready()

    @property
    def pid(self):
        return self.proc.pid

    @property
    def log(self):
        self._log.flush()
        return Path(self.log_path).read_text(errors="replace")

    def wait_ready(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "Booting worker with pid" in self.log:
                return
            if self.proc.poll() is not None:
                raise AssertionError("narwhal exited with %s:\n%s" % (self.proc.returncode, self.log))
            time.sleep(0.05)
        raise AssertionError("narwhal did not start in %ss:\n%s" % (timeout, self.log))

    def url(self, path="/"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def connect(self, timeout=10):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def _status_kib(self, field):
        for line in Path("/proc/%d/status" % self.pid).read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise AssertionError("no %s in /proc/%d/status" % (field, self.pid))

    def rss_kib(self):
        return self._status_kib("VmRSS")

    def hwm_kib(self):
        """Peak resident memory since the process started."""
        return self._status_kib("VmHWM")

    def stop(self, sig=signal.SIGTERM, timeout=40):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


@pytest.fixture
def serve(tmp_path):
    """serve(app_spec, *args, cwd=APPS, python=None, env=None) -> Server, stopped at teardown."""
    started = []

    def start(app, *args, cwd=APPS, python=None, env=None, bind=True, ready=True, pass_fds=(),
              new_session=False):
        port = free_port()
        argv = list(args)
        if bind:
            argv += ["-b", "127.0.0.1:%d" % port]
        if python:
            argv += ["--python", python]
        if app:
            argv.append(app)
        full_env = dict(os.environ)
        full_env.pop("VIRTUAL_ENV", None)
        full_env.update(env or {})
        server = Server(argv, cwd, full_env, port, tmp_path / ("server-%d.log" % len(started)),
                        ready=ready, pass_fds=pass_fds, new_session=new_session)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def run_narwhal(*args, cwd=APPS, env=None, timeout=60):
    """Runs narwhal to completion (for exit codes and messages)."""
    full_env = dict(os.environ)
    full_env.pop("VIRTUAL_ENV", None)
    full_env.update(env or {})
    return subprocess.run([str(BINARY), *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout)


async def many_at_once(port, target, n):
    """n GET requests for target sent at once, each on its own connection; their status lines."""
    async def one():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % target.encode())
        await writer.drain()
        data = await reader.read()
        writer.close()
        return data.split(b"\r\n", 1)[0]

    return await asyncio.gather(*(one() for _ in range(n)))


def read_response(sock_or_file, head_only=False):
    """Reads one HTTP/1.x response: (status, reason, headers dict lower-cased (last wins), raw
    header list, body). Returns None on EOF before a status line. Pass the same buffered
    file (sock.makefile("rb")) for pipelined responses: a new one would lose buffered bytes."""
    own = isinstance(sock_or_file, socket.socket)
    f = sock_or_file.makefile("rb") if own else sock_or_file
    line = f.readline()
    if not line:
        return None
    version, status, *reason = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
    raw_headers = []
    while True:
        h = f.readline()
        if h in (b"\r\n", b"\n", b""):
            break
        name, _, value = h.decode("latin-1").partition(":")
        raw_headers.append((name.strip(), value.strip()))
    headers = {n.lower(): v for n, v in raw_headers}
    body = b""
    if head_only or status in ("204", "304"):
        pass
    elif "content-length" in headers:
        body = f.read(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        parts = []
        while True:
            size = int(f.readline().split(b";")[0].strip(), 16)
            if size == 0:
                while f.readline() not in (b"\r\n", b""):
                    pass
                break
            parts.append(f.read(size))
            f.readline()
        body = b"".join(parts)
    else:
        body = f.read()
    if own:
        f.close()
    return int(status), (reason[0] if reason else ""), headers, raw_headers, body
