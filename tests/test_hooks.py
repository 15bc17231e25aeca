"""Server hooks from a real config file: each is called at Gunicorn's moment, in the right
process, with the objects Gunicorn passes (server.log, worker.pid, worker.age, req.path...)."""

import json
import os
import signal
import textwrap
import time

import requests

from conftest import APPS
from procs import wait_for, workers

HOOKS = '''
import json, os

RECORD = os.environ["HOOK_RECORD"]
pythonpath = %(apps)r


def note(name, **fields):
    fields.update(hook=name, pid=os.getpid())
    with open(RECORD, "a") as f:
        f.write(json.dumps(fields) + "\\n")


def on_starting(server):
    note("on_starting", server_pid=server.pid, workers=server.cfg.workers)
    server.log.info("hook says hello from on_starting")

def on_reload(server):
    note("on_reload")

def when_ready(server):
    note("when_ready", listeners=[str(l) for l in server.LISTENERS])

def pre_fork(server, worker):
    note("pre_fork", age=worker.age, worker_pid=worker.pid)

def post_fork(server, worker):
    note("post_fork", age=worker.age, worker_pid=worker.pid, server_pid=server.pid)

def post_worker_init(worker):
    note("post_worker_init", worker_pid=worker.pid, booted=worker.booted is not None)

def worker_int(worker):
    note("worker_int", worker_pid=worker.pid)

def worker_abort(worker):
    note("worker_abort", worker_pid=worker.pid)

def pre_exec(server):
    note("pre_exec")

def pre_request(worker, req):
    note("pre_request", worker_pid=worker.pid, method=req.method, path=req.path, query=req.query,
         headers=dict(req.headers).get("X-TRACE"))

def post_request(worker, req, environ, resp):
    note("post_request", path=req.path, status=resp.status, sent=resp.sent, script=environ.get("SCRIPT_NAME"))

def child_exit(server, worker):
    note("child_exit", worker_pid=worker.pid, age=worker.age)

def worker_exit(server, worker):
    note("worker_exit", worker_pid=worker.pid)

def nworkers_changed(server, new_value, old_value):
    note("nworkers_changed", new=new_value, old=old_value)

def on_exit(server):
    note("on_exit")
'''


def records(path):
    if not path.exists():
        return []
    return [json.loads(l) for l in path.read_text().splitlines() if l.strip()]


def hooks_named(path, name):
    return [r for r in records(path) if r["hook"] == name]


def start(serve, tmp_path, *args, extra=""):
    (tmp_path / "gunicorn.conf.py").write_text(HOOKS % {"apps": str(APPS)} + textwrap.dedent(extra))
    record = tmp_path / "hooks.jsonl"
    server = serve("procmodel:app", *args, cwd=tmp_path, env={"HOOK_RECORD": str(record)})
    return server, record


def test_hooks_in_order_through_a_lifetime(serve, tmp_path):
    server, record = start(serve, tmp_path, "-w", "2")
    assert wait_for(lambda: len(hooks_named(record, "post_worker_init")) == 2, 20)
    master = server.pid

    r = requests.get(server.url("/hello?x=1"), headers={"X-Trace": "t-1"})
    assert r.status_code == 200
    assert wait_for(lambda: hooks_named(record, "post_request"), 5)

    os.kill(master, signal.SIGTTIN)
    assert wait_for(lambda: len(hooks_named(record, "post_worker_init")) == 3, 20)
    assert wait_for(lambda: "hook says hello from on_starting" in server.log, 5)
    assert server.stop() == 0

    seq = [r["hook"] for r in records(record)]
    # Master, at start: nworkers_changed (as Gunicorn sets num_workers), on_starting, when_ready, then forks.
    assert seq[:3] == ["nworkers_changed", "on_starting", "when_ready"]
    first = records(record)[0]
    assert first["new"] == 2 and first["old"] is None and first["pid"] == master
    assert hooks_named(record, "on_starting")[0]["workers"] == 2

    pre_forks = hooks_named(record, "pre_fork")
    assert [p["age"] for p in pre_forks] == [1, 2, 3] and all(p["pid"] == master and p["worker_pid"] is None for p in pre_forks)
    post_forks = hooks_named(record, "post_fork")
    assert sorted(p["age"] for p in post_forks) == [1, 2, 3]
    assert all(p["pid"] == p["worker_pid"] != master and p["server_pid"] == master for p in post_forks)
    assert all(p["booted"] for p in hooks_named(record, "post_worker_init"))

    pre = hooks_named(record, "pre_request")[0]
    assert (pre["method"], pre["path"], pre["query"], pre["headers"]) == ("GET", "/hello", "x=1", "t-1")
    assert pre["pid"] != master
    post = hooks_named(record, "post_request")[0]
    assert post["status"] == "200 OK" and post["sent"] > 0 and post["path"] == "/hello"

    assert {"new": 3, "old": 2} in [{"new": r["new"], "old": r["old"]} for r in hooks_named(record, "nworkers_changed")]
    exits = hooks_named(record, "worker_exit")
    assert len(exits) == 3 and all(e["pid"] == e["worker_pid"] != master for e in exits)
    children = hooks_named(record, "child_exit")
    assert len(children) == 3 and all(c["pid"] == master for c in children)
    assert sorted(c["worker_pid"] for c in children) == sorted(p["worker_pid"] for p in post_forks)
    assert seq[-1] == "on_exit"


def test_on_reload_on_hup(serve, tmp_path):
    server, record = start(serve, tmp_path)
    assert wait_for(lambda: hooks_named(record, "post_worker_init"), 20)
    os.kill(server.pid, signal.SIGHUP)
    assert wait_for(lambda: hooks_named(record, "on_reload"), 10)
    assert wait_for(lambda: len(hooks_named(record, "post_worker_init")) == 2, 20)


def test_worker_int_on_quit(serve, tmp_path):
    server, record = start(serve, tmp_path)
    assert wait_for(lambda: hooks_named(record, "post_worker_init"), 20)
    server.stop(signal.SIGQUIT)
    assert hooks_named(record, "worker_int")


def test_worker_abort_on_timeout(serve, tmp_path):
    server, record = start(serve, tmp_path, "-t", "2")
    assert wait_for(lambda: hooks_named(record, "post_worker_init"), 20)
    try:
        requests.get(server.url("/sleep/6"), timeout=8)
    except requests.RequestException:
        pass
    assert wait_for(lambda: hooks_named(record, "worker_abort"), 10), server.log
    assert hooks_named(record, "worker_abort")[0]["pid"] != server.pid


def test_pre_exec_on_usr2(serve, tmp_path):
    server, record = start(serve, tmp_path)
    assert wait_for(lambda: hooks_named(record, "post_worker_init"), 20)
    os.kill(server.pid, signal.SIGUSR2)
    assert wait_for(lambda: hooks_named(record, "pre_exec"), 10)
    assert hooks_named(record, "pre_exec")[0]["pid"] == server.pid
    # The new master starts with the same hooks; stop it through its pid.
    assert wait_for(lambda: len([r for r in hooks_named(record, "on_starting") if r["pid"] != server.pid]) == 1, 20)
    new_master = [r for r in hooks_named(record, "on_starting") if r["pid"] != server.pid][0]["pid"]
    os.kill(new_master, signal.SIGTERM)
    assert wait_for(lambda: any(r["pid"] == new_master for r in hooks_named(record, "on_exit")), 20)


def test_a_failing_hook_is_logged_and_the_server_keeps_serving(serve, tmp_path):
    server, record = start(serve, tmp_path, extra='''
        def pre_request(worker, req):
            raise ValueError("broken pre_request hook")
    ''')
    r = requests.get(server.url("/"))
    assert r.status_code == 200
    assert wait_for(lambda: "broken pre_request hook" in server.log, 5)
    assert "Exception in pre_request hook" in server.log
