"""--log-level debug gives Gunicorn's debug lines, not Kestrel's internals (issue 11); Kestrel's
own messages come with Narwhal's --kestrel-log-level."""

import re
import signal
import socket
import subprocess

import pytest
import requests

from conftest import APPS, BINARY, DEBIAN_PYTHON, free_port, run_narwhal
from procs import wait_for, workers

def read(path):
    return path.read_text() if path.exists() else ""


LINE = re.compile(r"^\[[^]]+\] \[(\d+)\] \[(\w+)\] (.*)$")


def messages(path, level="DEBUG"):
    """(pid, message) of each line at `level`; continuation lines (the configuration dump) are left out."""
    found = []
    for line in read(path).splitlines():
        m = LINE.match(line)
        if m and m.group(2) == level:
            found.append((int(m.group(1)), m.group(3)))
    return found


def answers(port):
    try:
        return requests.get("http://127.0.0.1:%d/" % port, timeout=5).ok
    except requests.ConnectionError:
        return False


def master_pid(path):
    m = wait_for(lambda: re.search(r"Listening at: \S+ \((\d+)\)", read(path)), 30, "the master's start")
    return int(m.group(1))


def exercise(port, log):
    """The same requests and signals against either server, each step waited for in the log
    so that the lines come in one order."""
    base = "http://127.0.0.1:%d" % port
    closed = read(log).count("Closing connection. ")  # the probe's connection closed before this
    with requests.Session() as s:            # one kept-alive connection, closed by the client
        s.get(base + "/a?x=1")
        s.get(base + "/b")
    wait_for(lambda: read(log).count("Closing connection. ") > closed, 10, "the closed connection")
    requests.get(base + "/c", headers={"Connection": "close"})  # the server closes it
    wait_for(lambda: "Closing connection.\n" in read(log), 10, "the closing response")


def run(cmd, tmp_path, name, *extra):
    port, log = free_port(), tmp_path / ("%s.log" % name)
    proc = subprocess.Popen(cmd + ["-b", "127.0.0.1:%d" % port, "--error-logfile", str(log), "--log-level", "debug",
                                   "--threads", "2", *extra, "hello:app"],
                            cwd=APPS, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, port, log


def test_debug_lines_are_gunicorns_line_for_line(tmp_path):
    seen = {}
    for name, cmd in (("gunicorn", ["/usr/bin/gunicorn", "-k", "gthread"]),
                      ("narwhal", [str(BINARY), "--python", DEBIAN_PYTHON])):
        proc, port, log = run(cmd, tmp_path, name)
        try:
            master = master_pid(log)
            wait_for(lambda: len(workers(master)) == 1 if name == "narwhal" else "1 workers" in read(log), 30,
                     "the worker")
            wait_for(lambda: answers(port), 30, "a response")
            wait_for(lambda: "Closing connection. " in read(log), 10, "the first connection's close")
            start = len(messages(log))
            exercise(port, log)
            proc.send_signal(signal.SIGTTIN)
            wait_for(lambda: "2 workers" in read(log), 20, "the second worker")
        finally:
            proc.terminate()
            proc.wait(30)
        text = read(log)
        debug = messages(log)
        seen[name] = dict(
            master=[m for pid, m in debug if pid == master],
            worker=[m for pid, m in debug[start:] if pid != master],
            config=dict(re.findall(r"^  (\w+): (.*)$", text, re.M)))
    ours, theirs = seen["narwhal"], seen["gunicorn"]
    assert ours["master"] == theirs["master"] == ["Current configuration:", "Arbiter booted", "1 workers", "2 workers"]
    assert ours["worker"] == theirs["worker"] == [
        "GET /a", "GET /b", "Closing connection. ", "GET /c", "Closing connection."]
    # Debian's 20.1 has a backported security setting that upstream Gunicorn (and Narwhal) never had.
    assert set(theirs["config"]) - set(ours["config"]) <= {"tolerate_dangerous_framing"}, "settings missing from the dump"
    for setting in ("workers", "threads", "loglevel", "keepalive", "timeout", "backlog", "accesslog", "limit_request_line"):
        assert ours["config"][setting] == theirs["config"][setting], setting


def test_no_kestrel_lines_at_debug_but_with_kestrel_log_level(tmp_path):
    cases = ([], False), (["--kestrel-log-level", "debug"], True), (["--kestrel-log-level", "info"], False)
    for i, (extra, shown) in enumerate(cases):
        proc, port, log = run([str(BINARY)], tmp_path, "narwhal-%d" % i, *extra)
        try:
            master_pid(log)
            wait_for(lambda: "Booting worker" in read(log) and answers(port), 30, "the worker")
            requests.get("http://127.0.0.1:%d/x" % port, timeout=5)
            wait_for(lambda: "Closing connection. " in read(log), 10, "the connection's close")
        finally:
            proc.terminate()
            proc.wait(30)
        text = read(log)
        assert "GET /x" in text
        assert ('Connection id "' in text) == shown, text
        if shown:
            assert re.search(r'\[DEBUG\] Connection id "\w+" accepted\.', text)
            assert re.search(r'\[DEBUG\] Connection id "\w+" received FIN\.', text)


def test_kestrel_log_level_takes_the_log_levels_up_to_error():
    r = run_narwhal("--kestrel-log-level", "critical", "hello:app")
    assert r.returncode == 2 and "--kestrel-log-level" in r.stderr and "'critical'" in r.stderr
