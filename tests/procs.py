"""Process-tree helpers for the process-model tests: PIDs, titles, waiting on conditions."""

import os
import re
import shutil
import subprocess
import time
from pathlib import Path


def title(pid):
    try:
        return Path("/proc/%d/cmdline" % pid).read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def children(pid):
    """PIDs whose parent is pid."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        if ppid == pid:
            found.append(int(entry.name))
    return found


def workers(master_pid):
    return sorted(p for p in children(master_pid) if title(p).startswith("narwhal: worker"))


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes (its parent has not reaped it yet).
    try:
        return Path("/proc/%d/stat" % pid).read_text().split(") ")[1][0] != "Z"
    except OSError:
        return False


def wait_for(condition, timeout, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out after %ss waiting for %s" % (timeout, message))


class Load:
    """A constant keep-alive load from wrk for `seconds`; `result()` parses its totals."""

    def __init__(self, url, seconds, connections=16, threads=2):
        self.proc = subprocess.Popen(
            [shutil.which("wrk"), "-t%d" % threads, "-c%d" % connections, "-d%ds" % seconds, url],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def result(self):
        out, _ = self.proc.communicate(timeout=120)
        errors = dict(connect=0, read=0, write=0, timeout=0)
        m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
        if m:
            errors = dict(zip(("connect", "read", "write", "timeout"), map(int, m.groups())))
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        requests = re.search(r"(\d+) requests in", out)
        return dict(errors, non2xx=int(non2xx.group(1)) if non2xx else 0,
                    requests=int(requests.group(1)) if requests else 0, output=out)


def assert_no_failures(result):
    failed = {k: result[k] for k in ("connect", "read", "write", "timeout", "non2xx") if result[k]}
    assert not failed and result["requests"] > 0, result["output"]
