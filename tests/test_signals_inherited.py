"""Signals ignored at launch do not stay ignored (issue 11): `nohup narwhal ... &` still
reloads on HUP, and a background job of a non-interactive shell (INT and QUIT ignored) still
stops on INT and QUIT, as Gunicorn does, because it installs its handlers whatever it inherited."""

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest
import requests

from conftest import BINARY, free_port
from procs import alive, wait_for, workers

APP_V1 = 'def app(environ, start_response):\n' \
         '    start_response("200 OK", [("Content-Type", "text/plain")])\n' \
         '    return [b"%s"]\n'


def masks(pid):
    """(ignored, caught) signal numbers of a process, from /proc/PID/status."""
    fields = dict(line.split(":\t", 1) for line in Path("/proc/%d/status" % pid).read_text().splitlines()
                  if line.startswith(("SigIgn", "SigCgt")))
    return tuple({n for n in range(1, 65) if int(fields[f], 16) >> (n - 1) & 1} for f in ("SigIgn", "SigCgt"))


def ignored_by(launcher):
    """The signals a command started by `launcher` (a shell-command prefix) begins with ignored."""
    out = subprocess.run(["bash", "-c", launcher % "grep SigIgn /proc/self/status"],
                         capture_output=True, text=True, timeout=10).stdout
    value = int(out.split()[-1], 16)
    return {n for n in range(1, 65) if value >> (n - 1) & 1}


def wait_serving(log, port, n):
    """The master's pid once n workers serve."""
    found = wait_for(lambda: re.search(r"\[(\d+)\] \[INFO\] Listening at", log.read_text()), 20,
                     "the master's start")
    pid = int(found.group(1))
    wait_for(lambda: len(workers(pid)) == n, 20, "%d workers" % n)
    wait_for(lambda: requests.get("http://127.0.0.1:%d/" % port, timeout=5).ok, 20, "a response")
    return pid


def assert_handlers_installed(pid, expected):
    ignored, caught = masks(pid)
    assert not ignored & expected, "still ignored: %s" % sorted(ignored & expected)
    assert expected <= caught, "not caught: %s" % sorted(expected - caught)


WORKER_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGUSR1}
MASTER_SIGNALS = WORKER_SIGNALS | {signal.SIGTTIN, signal.SIGTTOU, signal.SIGUSR2, signal.SIGWINCH, signal.SIGCHLD}


def test_hup_under_nohup_reloads_the_workers_and_the_code(tmp_path):
    assert signal.SIGHUP in ignored_by("nohup %s"), "precondition: nohup ignores HUP"
    (tmp_path / "main.py").write_text(APP_V1 % "v1")
    port, log = free_port(), tmp_path / "nohup.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(["nohup", str(BINARY), "main:app", "-b", "127.0.0.1:%d" % port, "-w", "2"],
                                cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        wait_serving(log, port, 2)
        assert_handlers_installed(proc.pid, MASTER_SIGNALS)
        old = workers(proc.pid)
        for pid in old:
            assert_handlers_installed(pid, WORKER_SIGNALS)
            # The runtime ignores PIPE (a closed socket is an error, not a death); nothing else.
            assert masks(pid)[0] <= {signal.SIGPIPE}

        (tmp_path / "main.py").write_text(APP_V1 % "v2")
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: not any(alive(p) for p in old) and len(workers(proc.pid)) == 2, 20,
                 "workers %s replaced" % old)
        assert "Handling signal: hup" in log.read_text()
        assert requests.get("http://127.0.0.1:%d/" % port, timeout=5).text == "v2"
        for pid in workers(proc.pid):
            assert_handlers_installed(pid, WORKER_SIGNALS)
    finally:
        proc.terminate()
        proc.wait(30)


@pytest.mark.parametrize("sig", [signal.SIGQUIT, signal.SIGINT])
def test_a_background_job_of_a_script_stops_on_quit_and_int(tmp_path, sig):
    # bash without job control starts `cmd &` with INT and QUIT ignored (POSIX asks it to).
    assert {signal.SIGINT, signal.SIGQUIT} <= ignored_by("%s & wait"), "precondition"
    (tmp_path / "main.py").write_text(APP_V1 % "v1")
    # A config file makes Narwhal probe the interpreter (a child process) before the master
    # registers its handlers: .NET's signal handling has started, and recorded INT and QUIT, by then.
    (tmp_path / "gunicorn.conf.py").write_text("workers = 2\n")
    port, log = free_port(), tmp_path / "bg.log"
    launched = subprocess.run(
        ["bash", "-c", '"$0" main:app -b 127.0.0.1:%d >"$1" 2>&1 & echo $!' % port, str(BINARY), str(log)],
        cwd=tmp_path, capture_output=True, text=True, timeout=10)
    pid = int(launched.stdout)
    try:
        assert wait_serving(log, port, 2) == pid
        assert_handlers_installed(pid, MASTER_SIGNALS)
        pids = workers(pid)
        os.kill(pid, sig)
        # Not our child (bash has gone): a zombie left for init counts as stopped.
        wait_for(lambda: not alive(pid) and not any(alive(p) for p in pids), 20,
                 "the master and its workers to stop")
        assert "Handling signal: %s" % signal.Signals(sig).name[3:].lower() in log.read_text()
    finally:
        for p in [pid, *workers(pid)]:
            if alive(p):
                os.kill(p, signal.SIGKILL)
