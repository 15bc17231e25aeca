"""Hostile input, for a bounded time (NARWHAL_FUZZ_SECONDS, 20 by default; the seed is
printed and can be replayed with NARWHAL_FUZZ_SEED): malformed requests made by mutating
Gunicorn's corpus and the smuggling vectors are thrown at one worker while a client keeps
sending valid requests. The worker must never crash, never hang, never hand the app a
request that is not well-formed HTTP, and keep answering the valid client throughout."""

import base64
import json
import os
import random
import re
import socket
import threading
import time

import pytest

from conftest import SHARED, Server, free_port, read_response
from test_smuggling import VECTORS

CORPUS = SHARED / "conformance" / "gunicorn-requests"
ECHO_DIR = SHARED / "conformance"

TOKEN = re.compile(rb"^[A-Z0-9!#$%&'*+.^_`|~-]{3,20}$")
TARGET = re.compile(r"^[\x21-\x7e]+$")
HEADER_KEY = re.compile(r"^HTTP_[A-Z0-9!#$%&'*+.^_`|~]+$")  # a token, upper-cased, '-' as '_'
BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
INTERESTING = [b"\x00", b"\r", b"\n", b"\r\n", b" ", b"\t", b":", b"\x7f", b"\xff", b"0", b"-", b",",
               b"chunked", b"Content-Length: ", b"Transfer-Encoding: ", b"ffffffffffffffff", b"\r\n\r\n"]


def seeds():
    out = []
    for kind in ("valid", "invalid"):
        for path in sorted((CORPUS / kind).glob("*.json")):
            doc = json.loads(path.read_text())
            if not doc["config"]:
                out.append(base64.b64decode(doc["data_base64"]))
    return out + list(VECTORS.values())


def mutate(rnd, data, pool):
    data = bytearray(data)
    for _ in range(rnd.randint(1, 4)):
        op = rnd.randrange(7)
        at = rnd.randrange(len(data) + 1)
        if op == 0 and data:
            data[min(at, len(data) - 1)] ^= 1 << rnd.randrange(8)
        elif op == 1:
            data[at:at] = rnd.choice(INTERESTING)
        elif op == 2 and data:
            del data[at:at + rnd.randint(1, 8)]
        elif op == 3 and data:
            end = min(len(data), at + rnd.randint(1, 32))
            data[at:at] = data[at:end]
        elif op == 4:
            data = data[:at]
        elif op == 5:
            other = rnd.choice(pool)
            cut = rnd.randrange(len(other) + 1)
            data = data[:at] + other[cut:]
        else:
            data = data.replace(b"\r\n", b"\n", 1) if rnd.random() < 0.5 else data.replace(b": ", b":\t", 1)
    return bytes(data)


def check_reached_app(sent, doc):
    """What the echo app saw must be a well-formed request that is literally in the bytes sent."""
    method = doc["REQUEST_METHOD"].encode("latin-1")
    assert TOKEN.match(method), doc
    assert TARGET.match(doc["RAW_URI"]), doc
    assert doc["SERVER_PROTOCOL"] in ("HTTP/1.0", "HTTP/1.1"), doc
    target, protocol = doc["RAW_URI"].encode("latin-1"), doc["SERVER_PROTOCOL"].encode()
    line = b"%s %s %s\r\n" % (method, target, protocol)
    assert line in sent, (line, sent)
    for key, value in doc["headers"].items():
        assert HEADER_KEY.match(key) and not BAD_VALUE.search(value), (key, value)
    if "CONTENT_LENGTH" in doc:
        assert doc["CONTENT_LENGTH"].isdigit(), doc
        assert len(base64.b64decode(doc["body_base64"])) == int(doc["CONTENT_LENGTH"]), doc


END = b"GET /end HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"

# The fuzzed worker's --body-min-rate, bytes per second.
MIN_RATE = 1000


def throw(server, data):
    """Sends one hostile input, then a closing request, and reads until the server closes;
    returns the echo documents. A server still waiting for bytes the input promised (a body
    cut short) must give up by itself: header_timeout, keep-alive or the body's minimum rate."""
    # A body cut short is cut off by --body-min-rate (1000 B/s on average after a 5 s grace):
    # up to len(data) / 1000 s after the bytes arrived, on top of the other timeouts.
    s = socket.create_connection(("127.0.0.1", server.port), timeout=12 + len(data) / MIN_RATE)
    docs = []
    try:
        s.sendall(data + END)
        f = s.makefile("rb")
        while True:
            r = read_response(f)
            if r is None:
                break
            if r[2].get("x-conformance-echo") == "1":
                docs.append(json.loads(r[4]))
    except socket.timeout:
        raise AssertionError("the server kept the connection open past every timeout: %r" % data[:200])
    except (OSError, ValueError):
        pass  # reset, or a response cut short: the input was refused, which is fine
    finally:
        s.close()
    return data + END, docs


def test_mutated_requests_never_crash_hang_or_reach_the_app_malformed(tmp_path):
    seconds = float(os.environ.get("NARWHAL_FUZZ_SECONDS", "20"))
    seed = int(os.environ.get("NARWHAL_FUZZ_SEED", str(random.randrange(1 << 30))))
    print("hostile input: seed %d, %.0f s" % (seed, seconds))
    rnd = random.Random(seed)
    port = free_port()
    env = dict(os.environ)
    env.pop("VIRTUAL_ENV", None)
    server = Server(["-b", "127.0.0.1:%d" % port, "--threads", "4", "--header-timeout", "2", "--keep-alive", "1",
                     "--body-min-rate", str(MIN_RATE), "echo_app:app"], ECHO_DIR, env, port, tmp_path / "server.log")
    stop = threading.Event()
    valid = {"ok": 0, "failed": []}

    def valid_client():
        while not stop.is_set():
            try:
                s = server.connect(timeout=5)
                s.sendall(b"POST /valid?q=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
                r = read_response(s)
                s.close()
                doc = json.loads(r[4])
                assert r[0] == 200 and doc["RAW_URI"] == "/valid?q=1" and base64.b64decode(doc["body_base64"]) == b"hello"
                valid["ok"] += 1
            except Exception as e:  # noqa: BLE001 (every failure counts)
                valid["failed"].append(repr(e))
            time.sleep(0.02)

    pool = seeds()
    client = threading.Thread(target=valid_client)
    client.start()
    sent = reached = 0
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def attacker(rnd):
        nonlocal sent, reached
        while time.monotonic() < deadline:
            data, docs = throw(server, mutate(rnd, rnd.choice(pool), pool))
            for doc in docs:
                check_reached_app(data, doc)
            with lock:
                sent += 1
                reached += len(docs)

    errors = []

    def guarded(rnd):
        try:
            attacker(rnd)
        except BaseException as e:  # noqa: BLE001 (reported below)
            errors.append(e)

    attackers = [threading.Thread(target=guarded, args=(random.Random(rnd.random()),)) for _ in range(16)]
    try:
        for t in attackers:
            t.start()
        for t in attackers:
            t.join()
        if errors:
            raise errors[0]
    finally:
        stop.set()
        client.join()
        log = server.log
        alive = server.proc.poll() is None
        server.stop()
    print("hostile input: %d inputs, %d requests reached the app well-formed, %d valid requests served"
          % (sent, reached, valid["ok"]))
    assert alive, log
    assert log.count("Booting worker with pid") == 1, "a worker died:\n" + log[-3000:]
    assert "Traceback" not in log and "Unhandled" not in log, log[-3000:]
    assert valid["failed"] == [], valid["failed"][:5]
    assert sent > 500 and reached > 50 and valid["ok"] > 20


@pytest.mark.parametrize("line", [b"GET /xHTTP/1.0", b"GET /a  HTTP/1.1", b"GET /a HTTP/1.1 ", b"GET /a\tHTTP/1.1"])
def test_request_line_kestrel_would_misread_is_refused(serve, line):
    """Kestrel alone serves "GET /xHTTP/1.0" as "GET / HTTP/1.0" (it takes the version from
    the end of the line and skips the byte before it); Narwhal's head inspector refuses it."""
    server = serve("echo_app:app", cwd=ECHO_DIR)
    s = server.connect()
    # Behind a well-formed request with an Upgrade header too: the check is not switched off.
    s.sendall(b"GET /x HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n" + line + b"\r\nHost: x\r\n\r\n")
    f = s.makefile("rb")
    assert read_response(f)[0] == 200
    assert read_response(f)[0] == 400
