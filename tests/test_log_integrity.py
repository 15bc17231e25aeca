"""Log files shared by the master and its workers, under keep-alive load: every answered request
has exactly one whole access line, every print() of the app is in the error log whole
(--capture-output), the master's and workers' start lines are there, and a USR1 rotation in
the middle of the load loses or splits nothing.

The server runs as in production (-w 4 --threads 2); the load client (keepalive_client)
remembers which requests it got an answer for, so lines are matched to requests one for one.
"""

import collections
import os
import re
import signal
from pathlib import Path

import pytest

from apps.printer import line as printed_line
from keepalive_client import KeepAliveLoad
from procs import wait_for, workers

REQUESTS = 30000
CONNECTIONS = 32

ACCESS_LINE = re.compile(
    r'127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "GET /r/(\S+) HTTP/1\.1" 200 2 "-" "-"')
ERROR_LINE = re.compile(r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\] \[(\d+)\] \[[A-Z]+\] (.*)")
PRINTED_LINE = re.compile(r"printed (\S+) =+ end")
O_APPEND = 0o2000


def start(serve, tmp_path, env=None):
    access, errors = tmp_path / "access.log", tmp_path / "error.log"
    server = serve("printer:app", "-w", "4", "--threads", "2", "--access-logfile", str(access),
                   "--error-logfile", str(errors), "--capture-output", env=env, ready=False)
    # Not the "Booting worker" lines: they are among what is checked. The listening socket
    # queues the load's connections until the workers accept.
    pids = wait_for(lambda: opened_logs(server.pid, {str(access)}, 4), 30, "4 workers with their logs open")
    return server, access, errors, pids


def opened_logs(master, paths, count):
    pids = workers(master)
    return len(pids) == count and all(log_descriptor_flags(pid, paths) for pid in pids) and pids


def stop(server):
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(60) == 0


def access_ids(*files):
    """Counter of request ids over the files' access lines; the lines that are not whole access lines."""
    ids, malformed = collections.Counter(), []
    for f in files:
        for text in f.read_text(errors="replace").splitlines():
            m = ACCESS_LINE.fullmatch(text)
            if m:
                ids[m.group(1)] += 1
            else:
                malformed.append(text)
    return ids, malformed


def error_log(*files):
    """(Counter of printed request ids, [(pid, message)] of the server's lines, malformed lines)."""
    printed, server_lines, malformed = collections.Counter(), [], []
    for f in files:
        for text in f.read_text(errors="replace").splitlines():
            m = PRINTED_LINE.fullmatch(text)
            if m and text == printed_line(m.group(1)):
                printed[m.group(1)] += 1
                continue
            m = ERROR_LINE.fullmatch(text)
            if m:
                server_lines.append((int(m.group(1)), m.group(2)))
            else:
                malformed.append(text)
    return printed, server_lines, malformed


def each_once(counted, answered, what):
    """[] if every answered request is counted exactly once and nothing else is, else what is wrong."""
    missing = [i for i in answered if counted[i] == 0]
    repeated = [i for i in answered if counted[i] > 1]
    unknown = set(counted) - set(answered)
    if not (missing or repeated or unknown):
        return []
    return ["%s: %d of %d answered requests have no line (e.g. %s), %d have several (e.g. %s), %d "
            "lines name no answered request (e.g. %s)" % (
                what, len(missing), len(answered), missing[:3], len(repeated), repeated[:3],
                len(unknown), sorted(unknown)[:3])]


def whole(malformed, what):
    return ["%s: %d lines are not whole, e.g. %r" % (what, len(malformed), malformed[:3])] if malformed else []


def log_descriptor_flags(pid, paths):
    """{(fd, path): flags} of pid's descriptors on the given files."""
    found = {}
    for fd in Path("/proc/%d/fd" % pid).iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target in paths:
            for row in (Path("/proc/%d/fdinfo" % pid) / fd.name).read_text().splitlines():
                if row.startswith("flags:"):
                    found[(int(fd.name), target)] = int(row.split()[1], 8)
    return found


# Python block-buffers stdout on a file and flushes it mid-line; PYTHONUNBUFFERED (common in
# containers) writes a print()'s text and its newline with two write(2)s. Both are tested
# (an empty value is unset for Python), whatever the environment running the tests says.
@pytest.mark.parametrize("python_env", [{"PYTHONUNBUFFERED": ""}, {"PYTHONUNBUFFERED": "1"}],
                         ids=["buffered", "unbuffered"])
def test_every_request_prints_and_logs_one_whole_line_under_load(serve, tmp_path, python_env):
    server, access, errors, pids = start(serve, tmp_path, python_env)

    descriptors = {pid: log_descriptor_flags(pid, {str(access), str(errors)}) for pid in [server.pid, *pids]}
    result = KeepAliveLoad(server.port, CONNECTIONS, processes=4, requests=REQUESTS).result()
    stop(server)
    assert result.failed == 0 and len(result.answered) == REQUESTS, (result.failed, len(result.answered))

    ids, malformed = access_ids(access)
    printed, server_lines, bad_lines = error_log(errors)
    problems = (whole(malformed, "access log") + each_once(ids, result.answered, "access log")
                + whole(bad_lines, "error log") + each_once(printed, result.answered, "printed lines"))
    assert not problems, "\n".join(problems)
    master = [m for pid, m in server_lines if pid == server.pid]
    for start_line in ("Starting narwhal", "Listening at: http://127.0.0.1:%d" % server.port, "Using worker:"):
        assert any(m.startswith(start_line) for m in master), (start_line, master)
    for pid in pids:
        assert (pid, "Booting worker with pid: %d" % pid) in server_lines, (pid, server_lines[:20])
    assert any(m == "Shutting down: Master" for m in master), master[-5:]

    # Every descriptor on the shared files, the master's and each worker's (stdout and
    # stderr included), appends: the kernel writes each line at the end as it is then.
    for pid, flags in descriptors.items():
        assert {path for _, path in flags} == {str(access), str(errors)}, (pid, flags)
        assert (1, str(errors)) in flags and (2, str(errors)) in flags, (pid, flags)
        assert all(f & O_APPEND for f in flags.values()), (pid, {k: oct(v) for k, v in flags.items()})


def test_usr1_rotation_under_load_loses_and_splits_no_line(serve, tmp_path):
    server, access, errors, pids = start(serve, tmp_path)
    load = KeepAliveLoad(server.port, CONNECTIONS, processes=4, requests=REQUESTS)
    wait_for(lambda: load.progress.value >= REQUESTS // 3, 60, "a third of the load")
    os.rename(access, tmp_path / "access.log.1")
    os.rename(errors, tmp_path / "error.log.1")
    os.kill(server.pid, signal.SIGUSR1)
    result = load.result()
    stop(server)
    assert result.failed == 0 and len(result.answered) == REQUESTS, (result.failed, len(result.answered))

    old_ids, old_malformed = access_ids(tmp_path / "access.log.1")
    new_ids, new_malformed = access_ids(access)
    printed, server_lines, bad_lines = error_log(tmp_path / "error.log.1", errors)
    problems = (whole(old_malformed, "access.log.1") + whole(new_malformed, "access.log")
                + each_once(old_ids + new_ids, result.answered, "access.log.1 + access.log")
                + whole(bad_lines, "error.log.1 + error.log")
                + each_once(printed, result.answered, "printed lines in error.log.1 + error.log"))
    assert not problems, "\n".join(problems)
    # The rotation happened with requests still to come: both files hold some.
    assert old_ids and new_ids, (len(old_ids), len(new_ids))
    new_printed, _, _ = error_log(errors)
    assert new_printed, "nothing printed after the rotation reached the new error log"
    assert (server.pid, "Handling signal: usr1") in server_lines


def test_relative_log_paths_name_one_file_for_master_and_workers(serve, tmp_path):
    # As in Gunicorn, relative to --chdir: the workers start there, and the master must not
    # open (or reopen) another file of the same name where it was launched.
    launch, appdir = tmp_path / "launch", tmp_path / "app"
    launch.mkdir()
    appdir.mkdir()
    (appdir / "printer.py").write_text((Path(__file__).parent / "apps" / "printer.py").read_text())
    server = serve("printer:app", "-w", "2", "--chdir", str(appdir), "--access-logfile", "access.log",
                   "--error-logfile", "error.log", cwd=launch, ready=False)
    access, errors = appdir / "access.log", appdir / "error.log"
    wait_for(lambda: opened_logs(server.pid, {str(access)}, 2), 30, "2 workers with their logs open")
    os.kill(server.pid, signal.SIGUSR1)
    result = KeepAliveLoad(server.port, 4, processes=1, requests=200).result()
    stop(server)
    assert sorted(os.listdir(launch)) == []
    ids, malformed = access_ids(access)
    assert not (each_once(ids, result.answered, "access log") + whole(malformed, "access log"))
    _, server_lines, malformed = error_log(errors)
    assert not malformed
    messages = [m for _, m in server_lines]
    for line in ("Starting narwhal", "Booting worker", "Handling signal: usr1", "Shutting down: Master"):
        assert any(m.startswith(line) for m in messages), (line, messages)


def test_hup_closes_the_log_files_it_replaces(serve, tmp_path):
    # Each HUP opens the logs afresh in the master; the old descriptors must not pile up.
    access, errors = tmp_path / "access.log", tmp_path / "error.log"
    server = serve("printer:app", "-w", "1", "--access-logfile", str(access), "--error-logfile", str(errors),
                   "--capture-output", ready=False)
    seen = set(wait_for(lambda: opened_logs(server.pid, {str(access)}, 1), 30, "the worker with its logs open"))
    before = log_descriptor_flags(server.pid, {str(access), str(errors)})
    for n in range(3):
        os.kill(server.pid, signal.SIGHUP)
        seen |= set(wait_for(lambda: set(opened_logs(server.pid, {str(access)}, 1) or seen) - seen, 30,
                             "the new worker after HUP %d" % (n + 1)))
    after = log_descriptor_flags(server.pid, {str(access), str(errors)})
    stop(server)
    assert len(after) == len(before) == 4, (before, after)  # stdout, stderr, the error log, the access log
    _, server_lines, malformed = error_log(errors)
    assert not malformed and sum(m.startswith("Hang up") for _, m in server_lines) == 3
