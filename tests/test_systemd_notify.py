"""systemd's notify protocol (Type=notify, Type=notify-reload) without systemd: the test
listens on its own AF_UNIX datagram socket, passes it as NOTIFY_SOCKET, and reads what the
master says, with the sender's PID from the kernel's credentials (SO_PASSCRED), across start,
HUP, TTIN, USR2 and TERM. Only the master may speak, and the workers must not see the socket."""

import os
import signal
import socket
import struct
import time
from pathlib import Path

import requests

from procs import alive, children, title, wait_for, workers


class NotifyListener:
    """The service manager's end: datagrams of KEY=VALUE lines, each with its sender's PID."""

    def __init__(self, address):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.bind(address)
        self.seen = []

    def next(self, timeout):
        self.sock.settimeout(timeout)
        data, ancdata, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
        pid = None
        for level, kind, payload in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", payload[:12])[0]
        fields = dict(line.split("=", 1) for line in data.decode().splitlines() if line)
        self.seen.append((pid, fields))
        return pid, fields

    def until(self, predicate, timeout=30, what="a message"):
        """Reads messages until one satisfies predicate(fields); returns (pid, fields)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no %s in %ss; seen: %s" % (what, timeout, self.seen))
            try:
                pid, fields = self.next(left)
            except socket.timeout:
                continue
            if predicate(fields):
                return pid, fields

    def close(self):
        self.sock.close()


def loaded(directory):
    return {int(p.name.split("-")[1]) for p in Path(directory).glob("loaded-*")}


def monotonic_usec():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


def test_ready_reload_status_upgrade_and_stop(serve, tmp_path):
    address = str(tmp_path / "notify.sock")
    listener = NotifyListener(address)
    marks = tmp_path / "marks"
    marks.mkdir()
    try:
        server = serve("notifyapp:app", "-w", "2", "--graceful-timeout", "5", ready=False,
                       env={"NOTIFY_SOCKET": address, "NOTIFY_TEST_DIR": str(marks)})

        # Start: READY=1 only once both workers serve; the second loads 1.5 s after the first.
        pid, ready = listener.until(lambda f: "READY" in f, what="READY=1")
        answer = requests.get(server.url("/"), timeout=5)
        first = workers(server.pid)
        assert pid == server.pid, listener.seen
        assert ready["READY"] == "1" and ready["STATUS"] == "2 workers serving", ready
        assert "MAINPID" not in ready  # systemd started this one itself
        assert answer.ok and answer.text.endswith("notify_socket="), answer.text
        assert len(first) == 2 and loaded(marks) == set(first), (first, loaded(marks))
        assert all("STOPPING" not in f and "READY" not in f for _, f in listener.seen[:-1])

        # HUP: RELOADING=1 with the monotonic clock, READY=1 once the new generation serves.
        before = monotonic_usec()
        server.proc.send_signal(signal.SIGHUP)
        pid, reloading = listener.until(lambda f: "RELOADING" in f, what="RELOADING=1")
        assert pid == server.pid and reloading["RELOADING"] == "1"
        assert before <= int(reloading["MONOTONIC_USEC"]) <= monotonic_usec()
        pid, ready = listener.until(lambda f: "READY" in f, what="READY=1 after HUP")
        fresh = loaded(marks) - set(first)
        assert pid == server.pid and ready["STATUS"] == "2 workers serving", ready
        assert len(fresh) == 2 and fresh <= set(workers(server.pid)) | set(first), fresh
        assert requests.get(server.url("/"), timeout=5).ok

        # TTIN: the count is reported as it changes.
        server.proc.send_signal(signal.SIGTTIN)
        listener.until(lambda f: f.get("STATUS") == "2 workers serving, 3 wanted", what="STATUS of 2, 3 wanted")
        pid, status = listener.until(lambda f: f.get("STATUS") == "3 workers serving", what="STATUS=3 workers serving")
        assert pid == server.pid

        # USR2: the new master names itself MAINPID once its workers serve; the old master,
        # stopped after it, hands MAINPID over instead of STOPPING=1 (which would stop the unit).
        server.proc.send_signal(signal.SIGUSR2)
        pid, ready = listener.until(lambda f: "READY" in f, what="READY=1 from the new master")
        masters = [p for p in children(server.pid) if title(p).startswith("narwhal: master")]
        assert masters == [pid], (masters, pid)
        new_master = pid
        try:
            # It reads the configuration afresh: -w 2 (TTIN is not carried over, as in Gunicorn).
            assert ready["MAINPID"] == str(new_master) and ready["STATUS"] == "2 workers serving", ready
            assert len(workers(new_master)) == 2
            server.proc.send_signal(signal.SIGTERM)
            assert server.proc.wait(15) == 0
            pid, handover = listener.until(lambda f: "MAINPID" in f or "STOPPING" in f, what="the old master's last word")
            assert pid == server.pid and handover == {"MAINPID": str(new_master)}, listener.seen
            assert requests.get(server.url("/"), timeout=5).ok
            wait_for(lambda: "Master has been promoted." in server.log, 5, "the promotion")
        finally:
            os.kill(new_master, signal.SIGTERM)
        pid, stopping = listener.until(lambda f: "STOPPING" in f, what="STOPPING=1")
        assert pid == new_master and stopping["STOPPING"] == "1", stopping
        wait_for(lambda: not alive(new_master), 15, "the new master to stop")
        senders = {p for p, _ in listener.seen}
        assert senders == {server.pid, new_master}, listener.seen
    finally:
        listener.close()


def test_abstract_socket_and_quit(serve):
    name = "narwhal-notify-test-%d" % os.getpid()
    listener = NotifyListener("\0" + name)
    try:
        server = serve("notifyapp:app", "-w", "1", ready=False, env={"NOTIFY_SOCKET": "@" + name})
        pid, ready = listener.until(lambda f: "READY" in f, what="READY=1")
        assert pid == server.pid and ready["STATUS"] == "1 worker serving", ready
        assert requests.get(server.url("/"), timeout=5).text.endswith("notify_socket=")
        server.proc.send_signal(signal.SIGQUIT)
        pid, stopping = listener.until(lambda f: "STOPPING" in f, what="STOPPING=1")
        assert pid == server.pid and stopping == {"STOPPING": "1", "STATUS": "stopping"}
        assert server.proc.wait(15) == 0
    finally:
        listener.close()


def test_unusable_notify_socket_is_a_warning(serve):
    server = serve("notifyapp:app", env={"NOTIFY_SOCKET": "vsock:2:1234"})
    wait_for(lambda: requests.get(server.url("/"), timeout=5).ok, 20, "a response")
    assert "Not notifying the service manager: NOTIFY_SOCKET='vsock:2:1234' is not a unix socket path" in server.log
