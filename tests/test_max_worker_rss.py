"""--max-worker-rss: the master replaces a worker whose resident memory stays above the limit,
its successor ready first, so a keep-alive load running throughout sees no failed request."""

import time

import requests

from conftest import free_port
from keepalive_client import KeepAliveLoad
from procs import alive, wait_for, workers
from test_logging import Udp
from test_metrics import scrape

LIMIT_MIB = 120  # a worker of this app takes 20-50 MiB under load; six /grow (120 MiB) take it past


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


def test_a_worker_over_the_limit_is_replaced_under_load_without_a_failed_request(serve):
    metrics = free_port()
    server = start(serve, "--max-worker-rss", str(LIMIT_MIB), "--metrics-bind", "127.0.0.1:%d" % metrics)
    first = workers(server.pid)
    load = KeepAliveLoad(server.port, connections=16, processes=2, seconds=8)
    time.sleep(1)
    grown = grow_one_worker(server, 6)
    assert grown in first
    wait_for(lambda: not alive(grown) and len(workers(server.pid)) == 2, 20, "the grown worker replaced")
    result = load.result()
    assert result.failed == 0 and len(result.answered) == result.sent > 1000, vars(result)
    line = next(l for l in server.log.splitlines() if "exceeded max-worker-rss" in l)
    assert "[INFO] Worker (pid:%d) exceeded max-worker-rss (" % grown in line
    assert line.endswith(" MiB > %d MiB), replacing it" % LIMIT_MIB), line
    assert int(line.split("max-worker-rss (")[1].split(" MiB")[0]) > LIMIT_MIB
    # Only the grown one went; the other kept serving.
    assert set(first) - {grown} <= set(workers(server.pid))
    assert scrape(metrics)[1]["narwhal_worker_rss_replacements_total"] == 1


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


def test_a_bad_limit_names_the_setting(serve):
    from conftest import run_narwhal
    r = run_narwhal("--max-worker-rss", "-5", "growing:app")
    assert r.returncode == 2 and "max-worker-rss" in r.stderr, r.stderr
