"""The master/worker model under real signals: supervision, timeouts, reloads and
zero-downtime operations under a constant keep-alive wrk load (issue 3)."""

import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from conftest import APPS, BINARY, free_port, run_narwhal
from procs import Load, alive, assert_no_failures, children, title, wait_for, workers

LOAD_SECONDS = 6


def start_workers(serve, n, *args, app="procmodel:app", **kw):
    server = serve(app, "-w", str(n), *args, **kw)
    wait_for(lambda: len(workers(server.pid)) == n, 20, "%d workers" % n)
    wait_for(lambda: requests.get(server.url("/"), timeout=5).ok, 20, "a response")
    return server


def replaced(server, old, n, timeout=20):
    """Waits until none of `old` is alive and n workers run; returns the new PIDs."""
    wait_for(lambda: not any(alive(p) for p in old) and len(workers(server.pid)) == n, timeout,
             "workers %s replaced by %d new ones" % (old, n))
    return workers(server.pid)


def test_master_starts_n_workers_with_gunicorn_titles(serve):
    server = start_workers(serve, 3, "-n", "shop")
    pids = workers(server.pid)
    assert title(server.pid) .startswith("narwhal: master [shop]")
    assert all(title(p).startswith("narwhal: worker [shop]") for p in pids)
    answered = {requests.get(server.url("/"), headers={"Connection": "close"}).text for _ in range(60)}
    assert answered <= {"pid=%d" % p for p in pids}
    assert "Listening at: http://127.0.0.1:%d (%d)" % (server.port, server.pid) in server.log


def test_default_title_is_the_app_and_web_concurrency_sets_workers(serve):
    server = serve("procmodel:app", env={"WEB_CONCURRENCY": "2"})
    wait_for(lambda: len(workers(server.pid)) == 2, 20, "2 workers")
    assert title(server.pid).startswith("narwhal: master [procmodel:app]")


def test_ttin_and_ttou_under_load_fail_nothing(serve):
    server = start_workers(serve, 2)
    load = Load(server.url("/"), LOAD_SECONDS)
    time.sleep(1)
    server.proc.send_signal(signal.SIGTTIN)
    wait_for(lambda: len(workers(server.pid)) == 3, 10, "3 workers after TTIN")
    time.sleep(1)
    server.proc.send_signal(signal.SIGTTOU)
    wait_for(lambda: len(workers(server.pid)) == 2, 10, "2 workers after TTOU")
    assert_no_failures(load.result())
    assert "Handling signal: ttin" in server.log and "Handling signal: ttou" in server.log


def test_hup_replaces_every_worker_under_load_without_a_failed_request(serve):
    server = start_workers(serve, 2)
    old = workers(server.pid)
    load = Load(server.url("/"), LOAD_SECONDS)
    time.sleep(1.5)
    server.proc.send_signal(signal.SIGHUP)
    new = replaced(server, old, 2)
    assert not set(new) & set(old)
    assert_no_failures(load.result())
    assert "Hang up: Master" in server.log


def test_max_requests_rotates_workers_under_load_without_a_failed_request(serve):
    server = start_workers(serve, 2, "--max-requests", "400", "--max-requests-jitter", "100")
    first = set(workers(server.pid))
    result = Load(server.url("/"), LOAD_SECONDS).result()
    assert_no_failures(result)
    assert result["requests"] > 2000
    assert server.log.count("Autorestarting worker after current request.") >= 2
    assert not first & set(workers(server.pid))


def test_a_killed_worker_is_replaced_and_new_connections_are_never_refused(serve):
    server = start_workers(serve, 2)
    victim = workers(server.pid)[0]
    load = Load(server.url("/"), LOAD_SECONDS, connections=8)
    time.sleep(1.5)
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: victim not in workers(server.pid) and len(workers(server.pid)) == 2, 10, "a replacement")
    result = load.result()
    # SIGKILL gives the worker no chance to answer: requests in flight on its connections
    # are lost (at most one per connection). Nothing else may fail.
    assert result["connect"] == 0 and result["non2xx"] == 0 and result["timeout"] == 0, result["output"]
    assert result["read"] + result["write"] <= 8, result["output"]
    assert "Worker (pid:%d) was sent SIGKILL! Perhaps out of memory?" % victim in server.log


def test_reload_on_a_changed_module_under_load_without_a_failed_request(serve, tmp_path):
    module = tmp_path / "live.py"
    module.write_text("def app(e, sr):\n    sr('200 OK', [('Content-Type', 'text/plain')])\n    return [b'v1']\n")
    server = start_workers(serve, 2, "--reload", "--reload-engine", "poll", app="live:app", cwd=tmp_path)
    assert requests.get(server.url("/")).text == "v1"
    load = Load(server.url("/"), LOAD_SECONDS)
    time.sleep(1.5)
    module.write_text("def app(e, sr):\n    sr('200 OK', [('Content-Type', 'text/plain')])\n    return [b'v2']\n")
    wait_for(lambda: requests.get(server.url("/"), headers={"Connection": "close"}).text == "v2", 15, "v2")
    wait_for(lambda: all(requests.get(server.url("/"), headers={"Connection": "close"}).text == "v2"
                         for _ in range(10)), 15, "only v2")
    assert_no_failures(load.result())
    assert "Worker reloading: %s modified" % module in server.log


def test_reload_keeps_serving_through_a_syntax_error_and_picks_up_the_fix(serve, tmp_path):
    module = tmp_path / "live.py"
    extra = tmp_path / "settings.txt"
    extra.write_text("a")
    module.write_text("def app(e, sr):\n    sr('200 OK', [])\n    return [b'v1']\n")
    server = start_workers(serve, 2, "--reload", "--reload-extra-file", str(extra), app="live:app", cwd=tmp_path)
    load = Load(server.url("/"), LOAD_SECONDS)
    time.sleep(0.5)
    module.write_text("def app(e, sr:\n")
    wait_for(lambda: "App failed to load." in server.log, 15, "the failed replacement")
    assert {requests.get(server.url("/"), headers={"Connection": "close"}).text for _ in range(10)} == {"v1"}
    assert server.proc.poll() is None
    module.write_text("def app(e, sr):\n    sr('200 OK', [])\n    return [b'v3']\n")
    wait_for(lambda: all(requests.get(server.url("/"), headers={"Connection": "close"}).text == "v3"
                         for _ in range(10)), 15, "only v3")
    assert_no_failures(load.result())
    before = workers(server.pid)
    extra.write_text("b")
    replaced(server, before, 2)


def test_a_request_past_timeout_replaces_its_worker_and_others_keep_serving(serve):
    server = start_workers(serve, 2, "-t", "2")
    stuck_result = {}

    def stuck():
        try:
            stuck_result["r"] = requests.get(server.url("/sleep/30"), timeout=20)
        except requests.RequestException as e:
            stuck_result["e"] = e

    started = time.monotonic()
    t = threading.Thread(target=stuck)
    t.start()
    time.sleep(0.5)
    stuck_pid = next(p for p in workers(server.pid) if "pid=%d" % p not in
                     {requests.get(server.url("/"), headers={"Connection": "close"}).text for _ in range(20)})
    while time.monotonic() - started < 3:
        assert requests.get(server.url("/"), headers={"Connection": "close"}, timeout=5).ok
    wait_for(lambda: not alive(stuck_pid), 2 + 2 - (time.monotonic() - started) + 0.5, "the stuck worker to die")
    assert time.monotonic() - started <= 2 + 2.5
    wait_for(lambda: len(workers(server.pid)) == 2, 5, "a replacement")
    t.join(10)
    assert "r" not in stuck_result  # the stuck request is cut, as in Gunicorn
    assert "WORKER TIMEOUT (pid:%d)" % stuck_pid in server.log
    assert "has run for" in server.log


def test_timeout_zero_lets_a_long_request_finish(serve):
    server = start_workers(serve, 1, "-t", "0")
    assert requests.get(server.url("/sleep/1.5"), timeout=10).ok


def test_term_finishes_in_flight_requests_and_leaves_no_process(serve):
    server = start_workers(serve, 2)
    pids = workers(server.pid)
    result = {}
    t = threading.Thread(target=lambda: result.update(r=requests.get(server.url("/sleep/1"))))
    t.start()
    time.sleep(0.3)
    server.proc.send_signal(signal.SIGTERM)
    t.join(10)
    assert result["r"].status_code == 200
    assert server.proc.wait(10) == 0
    assert not any(alive(p) for p in pids)
    assert server.log.rstrip().endswith("Shutting down: Master")


def test_graceful_timeout_bounds_a_stop(serve):
    server = start_workers(serve, 2, "--graceful-timeout", "1")
    pids = workers(server.pid)
    for _ in pids:  # one stuck request per worker: the gate sends the second to the free one
        threading.Thread(target=lambda: _quietly(requests.get, server.url("/sleep/20"), timeout=30), daemon=True).start()
        time.sleep(0.15)
    wait_for(lambda: _quietly(requests.get, server.url("/"), timeout=0.5) is None, 5, "both workers busy")
    began = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(10) == 0
    assert time.monotonic() - began < 4
    wait_for(lambda: not any(alive(p) for p in pids), 3, "workers gone")


@pytest.mark.parametrize("sig", [signal.SIGQUIT, signal.SIGINT])
def test_quick_stop(serve, sig):
    server = start_workers(serve, 2)
    pids = workers(server.pid)
    threading.Thread(target=lambda: _quietly(requests.get, server.url("/sleep/20"), timeout=30), daemon=True).start()
    time.sleep(0.3)
    began = time.monotonic()
    server.proc.send_signal(sig)
    assert server.proc.wait(10) == 0
    assert time.monotonic() - began < 3
    wait_for(lambda: not any(alive(p) for p in pids), 3, "workers gone")


def test_workers_leave_when_the_master_is_killed(serve):
    server = start_workers(serve, 2)
    pids = workers(server.pid)
    server.proc.kill()
    server.proc.wait()
    wait_for(lambda: not any(alive(p) for p in pids), 10, "orphaned workers to exit")


def test_usr2_winch_term_upgrade_under_load_without_a_failed_request(serve, tmp_path):
    pidfile = tmp_path / "narwhal.pid"
    server = start_workers(serve, 2, "-p", str(pidfile), new_session=True)
    assert pidfile.read_text().strip() == str(server.pid)
    old_workers = workers(server.pid)
    load = Load(server.url("/"), LOAD_SECONDS + 2)
    time.sleep(1)
    server.proc.send_signal(signal.SIGUSR2)
    new_master = wait_for(lambda: [p for p in children(server.pid) if title(p).startswith("narwhal: master")], 10,
                          "the new master")[0]
    try:
        assert title(new_master).startswith("narwhal: master [procmodel:app.2]")
        wait_for(lambda: len(workers(new_master)) == 2, 20, "the new master's workers")
        wait_for(lambda: Path(str(pidfile) + ".2").exists(), 5, "PIDFILE.2")
        time.sleep(1)
        server.proc.send_signal(signal.SIGWINCH)
        wait_for(lambda: not any(alive(p) for p in old_workers), 15, "the old workers to stop")
        time.sleep(0.5)
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(15) == 0
        wait_for(lambda: pidfile.exists() and pidfile.read_text().strip() == str(new_master), 5,
                 "the new master to take over the pid file")
        assert not Path(str(pidfile) + ".2").exists()
        assert_no_failures(load.result())
        assert requests.get(server.url("/")).ok
        wait_for(lambda: title(new_master).startswith("narwhal: master [procmodel:app]"), 5, "the new title")
    finally:
        os.kill(new_master, signal.SIGTERM)
        wait_for(lambda: not alive(new_master), 15, "the new master to stop")
    assert not pidfile.exists()


def test_pidfile_written_and_removed(serve, tmp_path):
    pidfile = tmp_path / "app.pid"
    server = start_workers(serve, 1, "--pid", str(pidfile))
    assert pidfile.read_text() == "%d\n" % server.pid
    server.stop()
    assert not pidfile.exists()


def test_pidfile_of_a_running_master_refuses_a_second_start(serve, tmp_path):
    pidfile = tmp_path / "app.pid"
    start_workers(serve, 1, "--pid", str(pidfile))
    r = run_narwhal("-p", str(pidfile), "-b", "127.0.0.1:%d" % free_port(), "procmodel:app", timeout=20)
    assert r.returncode == 1 and "Already running on PID" in r.stderr


def test_daemon_detaches_and_serves(tmp_path):
    pidfile = tmp_path / "d.pid"
    port = free_port()
    r = subprocess.run([str(BINARY), "-D", "-p", str(pidfile), "-b", "127.0.0.1:%d" % port, "procmodel:app"],
                       cwd=APPS, capture_output=True, timeout=20)
    assert r.returncode == 0
    pid = int(wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), 10, "the pid file"))
    try:
        assert os.getsid(pid) == pid  # its own session: no controlling terminal
        wait_for(lambda: _quietly(requests.get, "http://127.0.0.1:%d/" % port, timeout=2), 20, "a response")
    finally:
        os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not alive(pid), 15, "the daemon to stop")
    assert not pidfile.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")
def test_user_and_group_apply_to_workers_only(serve):
    server = start_workers(serve, 1, "-u", "nobody", "-g", "nogroup")
    worker = workers(server.pid)[0]
    status = Path("/proc/%d/status" % worker).read_text()
    uid = next(l.split()[1] for l in status.splitlines() if l.startswith("Uid:"))
    gid = next(l.split()[1] for l in status.splitlines() if l.startswith("Gid:"))
    assert (int(uid), int(gid)) == (65534, 65534)
    assert Path("/proc/%d/status" % server.pid).read_text().split("Uid:")[1].split()[0] == "0"


def test_unknown_user_is_a_usage_error():
    r = run_narwhal("-u", "no-such-user-xyz", "procmodel:app")
    assert r.returncode == 2 and "No such user: 'no-such-user-xyz'" in r.stderr


def test_umask_applies_to_the_unix_socket(serve, tmp_path):
    path = tmp_path / "s.sock"
    server = serve("procmodel:app", "-m", "0o077", "-b", "unix:%s" % path, bind=False)
    wait_for(path.exists, 10, "the socket")
    assert stat.S_IMODE(path.stat().st_mode) == 0o700
    server.stop()
    assert not path.exists()


def test_worker_tmp_dir_holds_the_heartbeat_file(serve, tmp_path):
    server = start_workers(serve, 1, "--worker-tmp-dir", str(tmp_path))
    worker = workers(server.pid)[0]
    targets = [os.readlink("/proc/%d/fd/%s" % (worker, fd)) for fd in os.listdir("/proc/%d/fd" % worker)]
    assert any(t.startswith(str(tmp_path / "wnarwhal-")) and t.endswith("(deleted)") for t in targets), targets


def test_systemd_socket_activation(tmp_path):
    port = free_port()
    log = tmp_path / "log"
    launcher = (
        "import os, socket, sys\n"
        "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
        "s.bind(('127.0.0.1', %d)); s.listen(16)\n"
        "os.dup2(s.fileno(), 3); os.set_inheritable(3, True)\n"
        "os.environ.update(LISTEN_FDS='1', LISTEN_PID=str(os.getpid()))\n"
        "os.execv(sys.argv[1], sys.argv[1:])\n" % port)
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", launcher, str(BINARY), "-b", "127.0.0.1:1", "procmodel:app"],
                                cwd=APPS, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: _quietly(requests.get, "http://127.0.0.1:%d/" % port, timeout=2), 20, "a response")
        assert "Listening at: http://127.0.0.1:%d" % port in log.read_text()
    finally:
        proc.terminate()
        proc.wait(15)


def test_reuse_port_gives_each_worker_its_own_socket(serve):
    server = start_workers(serve, 2, "--reuse-port")
    listening = [l for l in Path("/proc/net/tcp").read_text().splitlines()[1:]
                 if l.split()[1].endswith(":%04X" % server.port) and l.split()[3] == "0A"]
    assert len(listening) == 2
    answered = {requests.get(server.url("/"), headers={"Connection": "close"}).text for _ in range(80)}
    assert len(answered) == 2


def test_preload_fails_fast_without_starting_workers(tmp_path):
    r = run_narwhal("--preload", "-w", "4", "-b", "127.0.0.1:%d" % free_port(), "broken_import:app", timeout=30)
    assert r.returncode == 4
    assert "Booting worker" not in r.stderr and "Reason: App failed to load." in r.stderr


def test_preload_then_serves(serve):
    server = start_workers(serve, 2, "--preload")
    assert requests.get(server.url("/")).ok


def test_a_worker_that_cannot_load_the_app_stops_the_master_with_code_4():
    r = run_narwhal("-w", "3", "-b", "127.0.0.1:%d" % free_port(), "broken_import:app", timeout=30)
    assert r.returncode == 4 and "Reason: App failed to load." in r.stderr


def _quietly(fn, *args, **kw):
    try:
        return fn(*args, **kw)
    except requests.RequestException:
        return None


def test_while_a_worker_is_stuck_every_fresh_connection_is_answered_at_once(serve):
    """Gunicorn's sync workers answer every one: the stuck worker accepts nothing. A Narwhal
    worker whose only thread has just taken a slow request must leave new connections to the
    free workers, during the timeout and while it leaves."""
    server = start_workers(serve, 3, "-t", "3")
    threading.Thread(target=lambda: _quietly(requests.get, server.url("/sleep/10"), timeout=20), daemon=True).start()
    late = []
    started = time.monotonic()
    while time.monotonic() - started < 5:
        sent = time.monotonic()
        try:
            ok = requests.get(server.url("/"), headers={"Connection": "close"}, timeout=2).ok
        except requests.RequestException as e:
            ok = repr(e)
        if ok is not True:
            late.append((round(sent - started, 2), ok))
        time.sleep(0.2)
    assert late == []


def test_hup_with_code_that_cannot_load_keeps_every_worker_serving_under_load(serve, tmp_path):
    """Gunicorn stops its master here; Narwhal keeps the workers on the previous code."""
    module = tmp_path / "live.py"
    module.write_text("def app(e, sr):\n    sr('200 OK', [])\n    return [b'v1']\n")
    server = start_workers(serve, 3, app="live:app", cwd=tmp_path)
    before = workers(server.pid)
    load = Load(server.url("/"), LOAD_SECONDS)
    time.sleep(0.5)
    module.write_text("import no_such_module_anywhere\n")
    server.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "App failed to load." in server.log, 15, "the failed replacement")
    time.sleep(1)
    assert server.proc.poll() is None and workers(server.pid) == before
    assert {requests.get(server.url("/"), headers={"Connection": "close"}).text for _ in range(10)} == {"v1"}
    module.write_text("def app(e, sr):\n    sr('200 OK', [])\n    return [b'v2']\n")
    server.proc.send_signal(signal.SIGHUP)
    replaced(server, before, 3)
    assert_no_failures(load.result())
    assert {requests.get(server.url("/"), headers={"Connection": "close"}).text for _ in range(10)} == {"v2"}
