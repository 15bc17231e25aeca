"""--metrics-bind: the master's Prometheus page adds up every worker, gone ones included."""

import os
import re
import signal
import time

import requests

from conftest import free_port
from procs import wait_for, workers


def scrape(port):
    text = requests.get("http://127.0.0.1:%d/metrics" % port, timeout=5).text
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return text, values


def test_prometheus_metrics_from_the_master(serve):
    port = free_port()
    server = serve("logapp:app", "-w", "2", "--metrics-bind", "127.0.0.1:%d" % port)
    assert wait_for(lambda: len(workers(server.pid)) == 2, 15)
    for _ in range(8):
        requests.get(server.url("/"))
    requests.get(server.url("/status/404"))
    requests.get(server.url("/raise"))

    def counted():
        return scrape(port)[1].get("narwhal_request_duration_seconds_count") == 10
    assert wait_for(counted, 5)
    text, v = scrape(port)
    assert "# TYPE narwhal_request_duration_seconds histogram" in text
    assert v['narwhal_requests_total{status="2xx"}'] == 8
    assert v['narwhal_requests_total{status="4xx"}'] == 1
    assert v['narwhal_requests_total{status="5xx"}'] == 1
    assert v['narwhal_request_duration_seconds_bucket{le="+Inf"}'] == 10
    buckets = [value for name, value in v.items() if name.startswith("narwhal_request_duration_seconds_bucket")]
    assert buckets == sorted(buckets)  # cumulative
    assert v["narwhal_workers"] == 2 and v["narwhal_requests_in_flight"] == 0
    assert v["narwhal_worker_restarts_total"] == 0

    # A killed worker's requests stay counted; the restart is counted.
    os.kill(workers(server.pid)[0], signal.SIGKILL)
    assert wait_for(lambda: scrape(port)[1]["narwhal_worker_restarts_total"] == 1, 10)
    assert wait_for(lambda: scrape(port)[1]["narwhal_workers"] == 2, 15)
    assert scrape(port)[1]["narwhal_request_duration_seconds_count"] == 10
    assert requests.get("http://127.0.0.1:%d/other" % port).status_code == 404


def test_in_flight_requests(serve):
    port = free_port()
    server = serve("procmodel:app", "--threads", "4", "--metrics-bind", "127.0.0.1:%d" % port)
    import threading
    threads = [threading.Thread(target=requests.get, args=(server.url("/sleep/2"),)) for _ in range(3)]
    for t in threads:
        t.start()
    assert wait_for(lambda: scrape(port)[1]["narwhal_requests_in_flight"] == 3, 5)
    for t in threads:
        t.join()
