"""Real-world config files, run as they are: each setting they set is checked for its
effect on the running server, not only for being parsed."""

import json
import os
import shutil
import signal
import socket
import time
from pathlib import Path

import requests

from conftest import APPS, free_port
from procs import title, wait_for, workers

CONFIGS = Path(__file__).parent / "configs"


def test_production_config(serve, tmp_path):
    shutil.copy(CONFIGS / "production.py", tmp_path / "gunicorn.conf.py")
    port = free_port()
    server = serve("logapp:app", "--pythonpath", str(APPS), cwd=tmp_path, bind=False,
                   env={"PORT": str(port), "WEB_CONCURRENCY": "2", "LOG_LEVEL": "info"})
    server.port = port
    assert wait_for(lambda: len(workers(server.pid)) == 2, 20), server.log  # workers from WEB_CONCURRENCY
    assert title(server.pid) == "narwhal: master [shop-web]"              # proc_name
    assert all(title(w) == "narwhal: worker [shop-web]" for w in workers(server.pid))
    assert requests.get(server.url("/env/SHOP_REGION")).text == "eu-1"    # raw_env
    requests.get(server.url("/"), headers={"X-Request-Id": "abc-123"})
    assert wait_for(lambda: 'rid=abc-123' in server.log, 5), server.log  # access_log_format
    line = next(l for l in server.log.splitlines() if "rid=abc-123" in l)
    assert line.startswith('127.0.0.1 "GET / HTTP/1.1" 200 5 rid=abc-123 0.')
    assert "shop-web ready with 2 workers" in server.log                  # when_ready
    assert server.log.count("forked") >= 2                                # post_fork
    # max_requests = 6: with requests on new connections, both first workers get replaced.
    before = set(workers(server.pid))
    deadline = time.monotonic() + 30
    while set(workers(server.pid)) & before and time.monotonic() < deadline:
        requests.get(server.url("/"), headers={"Connection": "close"})
    assert not set(workers(server.pid)) & before, server.log
    assert "Autorestarting worker after current request." in server.log
    # keepalive = 5: an idle keep-alive connection is still open after 3 s.
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"200 OK" in sock.recv(4096)
    time.sleep(3)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"200 OK" in sock.recv(4096)
    sock.close()


def test_observability_config(serve, tmp_path):
    shutil.copy(CONFIGS / "observability.py", tmp_path / "gunicorn.conf.py")
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(0.2)
    json_log = tmp_path / "app.json.log"
    server = serve("logapp:app", "--pythonpath", str(APPS), cwd=tmp_path, ready=False,
                   env={"STATSD_PORT": str(udp.getsockname()[1]), "JSON_LOG": str(json_log)})
    assert wait_for(lambda: json_log.exists() and "Booting worker" in json_log.read_text(), 20)
    requests.get(server.url("/status/404"))
    packets = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any("status.404" in p for p in packets):
        try:
            packets.append(udp.recv(4096).decode())
        except socket.timeout:
            pass
    assert "shop.gunicorn.request.status.404:1|c|@1.0|#service:shop,env:ci" in packets
    assert wait_for(lambda: "timed GET /status/404 -> 404" in json_log.read_text(), 5)
    lines = json_log.read_text().splitlines()
    assert '{"logger":"gunicorn.error","level":"INFO","message":"timed GET /status/404 -> 404"}' in lines
    assert any(l.startswith('{"logger":"gunicorn.access","level":"INFO","message":"127.0.0.1 - - [')
               and '"GET /status/404 HTTP/1.1" 404' in l for l in lines)
    server.stop()
    assert "leaving" in json_log.read_text()                               # worker_exit
