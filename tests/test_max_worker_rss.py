"""--max-worker-rss: the master replaces a worker whose resident memory stays above the limit,
its successor ready first, so a keep-alive wrk load running throughout sees no failed request
(wrk, as in test_process_model: it reconnects after a Connection: close, which
keepalive_client does not)."""

import time

import requests

from conftest import free_port, run_narwhal
from procs import Load, alive, assert_no_failures, wait_for, workers
from test_logging import Udp
from test_metrics import scrape

LIMIT_MIB = 120  # a worker of this app takes 20-50 MiB under load; six /grow (120 MiB) take it past
LOAD_SECONDS = 8


def start(serve, *args):
    server = serve("growing:app", "-w", "2", *args)
    wait_for(lambda: len(workers(server.pid)) == 2, 20, "2 workers")
    wait_for(lambda: requests.get(server.url("/"), timeout=5).ok, 20, "a response")
    return server


def grow_one_worker(server, times):
    """Grows the worker that answers one keep-alive connection; returns its PID."""
    with requests.Session() as session:
        for _ in range(times):
            answer = session.get(server.url("/grow"), timeout=10).text
    return int(answer.split()[0].removeprefix("pid="))


def grow_each(server, pids, times, timeout=30):
    """Sends /grow on new connections until each of pids has grown `times` times (a request
    that lands on a replacement grows it once, far from the limit)."""
    deadline = time.monotonic() + timeout
    kept = {}
    while any(kept.get(p, 0) < times for p in pids):
        assert time.monotonic() < deadline, "not every worker grew: %s" % kept
        pid, count = requests.get(server.url("/grow"), headers={"Connection": "close"}, timeout=10).text.split()
        kept[int(pid.removeprefix("pid="))] = int(count.removeprefix("kept="))


def test_workers_over_the_limit_are_replaced_under_load_without_a_failed_request(serve):
    metrics = free_port()
    server = start(serve, "--max-worker-rss", str(LIMIT_MIB), "--metrics-bind", "127.0.0.1:%d" % metrics)
    first = workers(server.pid)
    # wrk opens its connections at once and may put them all on one worker: both are grown,
    # so the worker holding the load's connections is among those replaced.
    load = Load(server.url("/"), LOAD_SECONDS)
    time.sleep(1)
    grow_each(server, first, 6)
    wait_for(lambda: not any(alive(p) for p in first) and len(workers(server.pid)) == 2, 20,
             "both grown workers replaced")
    result = load.result()
    assert_no_failures(result)
    lines = [l for l in server.log.splitlines() if "exceeded max-worker-rss" in l]
    for pid in first:
        line = next(l for l in lines if "Worker (pid:%d) exceeded" % pid in l)
        assert "[INFO] Worker (pid:%d) exceeded max-worker-rss (" % pid in line
        assert line.endswith(" MiB > %d MiB), replacing it" % LIMIT_MIB), line
        assert int(line.split("max-worker-rss (")[1].split(" MiB")[0]) > LIMIT_MIB
    assert scrape(metrics)[1]["narwhal_worker_rss_replacements_total"] == len(lines) >= 2


def test_the_replacement_is_counted_in_statsd(serve):
    # Without load: a statsd packet per request would overflow the test's UDP buffer.
    udp = Udp()
    server = start(serve, "--max-worker-rss", str(LIMIT_MIB), "--statsd-host", "127.0.0.1:%d" % udp.port)
    grown = grow_one_worker(server, 6)
    wait_for(lambda: not alive(grown), 20, "the grown worker replaced")
    udp.collect(lambda p: "narwhal.worker.rss_replacements:1|c|@1.0" in p)


def test_no_worker_is_replaced_without_the_setting(serve):
    metrics = free_port()
    server = start(serve, "--metrics-bind", "127.0.0.1:%d" % metrics)
    first = workers(server.pid)
    grown = grow_one_worker(server, 6)
    time.sleep(3)  # past the two checks a second apart that would have replaced it
    assert workers(server.pid) == first and alive(grown)
    assert "max-worker-rss" not in server.log
    assert scrape(metrics)[1]["narwhal_worker_rss_replacements_total"] == 0


def test_a_bad_limit_names_the_setting():
    r = run_narwhal("--max-worker-rss", "-5", "growing:app")
    assert r.returncode == 2 and "max-worker-rss" in r.stderr, r.stderr
