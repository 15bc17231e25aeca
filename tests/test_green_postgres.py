"""-k gevent against a real PostgreSQL: psycopg2 patched by psycogreen in post_fork waits on
the hub, so requests that each wait on the database run side by side on one worker.

A throwaway cluster (Debian's postgresql package; initdb as the postgres user) listens on a
unix socket in a temporary directory for the module's tests."""

import concurrent.futures
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests

from conftest import ROOT, free_port

PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)), None)
PYTHON = "/usr/bin/python3"

pytestmark = pytest.mark.skipif(PG_BIN is None or shutil.which("runuser") is None or os.geteuid() != 0,
                                reason="needs Debian's postgresql and root (to run it as the postgres user)")


@pytest.fixture(scope="module")
def postgres():
    home = Path(tempfile.mkdtemp(prefix="narwhal-pg-"))
    os.chmod(home, 0o755)
    shutil.chown(home, "postgres", "postgres")
    data, sockets = home / "data", home / "run"

    def as_postgres(*cmd, **kw):
        return subprocess.run(["runuser", "-u", "postgres", "--", *cmd], check=True, capture_output=True, text=True, **kw)

    as_postgres("mkdir", str(data), str(sockets))
    as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres")
    port = str(free_port())
    as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-w", "-l", str(home / "pg.log"), "-o",
                "-k %s -p %s -c listen_addresses='' -c max_connections=300" % (sockets, port), "start")
    try:
        yield {"PGHOST": str(sockets), "PGPORT": port}
    finally:
        as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(home, ignore_errors=True)


def test_requests_waiting_on_postgres_run_side_by_side_with_psycogreen(serve, postgres):
    server = serve("green.pgapp:app", "-c", str(ROOT / "tests" / "configs" / "psycogreen.conf.py"), "-w", "1",
                   python=PYTHON, env=postgres)
    assert requests.get(server.url("/?0")).text == "psycogreen.gevent.gevent_wait_callback"
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(40) as pool:
        bodies = list(pool.map(lambda _: requests.get(server.url("/?0.5"), timeout=30).text, range(40)))
    took = time.monotonic() - started
    assert bodies == ["psycogreen.gevent.gevent_wait_callback"] * 40
    # One after another they take 20 s; side by side, about one wait plus connection set-up.
    assert took < 4, took


def test_without_the_patch_psycopg2_blocks_the_hub(serve, postgres):
    """The same app without psycogreen: each wait holds the one hub, so the requests queue.
    (What the test above would see if the patch did not reach the worker.)"""
    server = serve("green.pgapp:app", "-k", "gevent", "-w", "1", python=PYTHON, env=postgres)
    assert requests.get(server.url("/?0")).text == "none"
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: requests.get(server.url("/?0.3"), timeout=30).text, range(8)))
    assert time.monotonic() - started > 8 * 0.3 * 0.9
