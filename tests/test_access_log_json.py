"""--access-log-json: one JSON object per request, to the access log file and to syslog, under
-w 2, with hostile bytes from raw sockets (0x01, 0x7f, 0xff, quotes, backslashes, long values)
in the target, the headers, basic-auth credentials and an environ value. Every line must be
one valid JSON object, ASCII only, and every value must read back as what was sent."""

import base64
import json
import socket
import threading
import time
from pathlib import Path

from conftest import read_response
from procs import wait_for, workers
from test_logging import Udp

from apps.jsonlogapp import HOSTILE_ENVIRON

# Bytes a header value may carry (obs-text included); 0x01 and 0x7f are refused in headers (400).
HEADER_BYTES = b"\xff\xfe\x80 \"quoted\" back\\slash \\\" \t \xc3\xa9 end"
LONG = b"\\\"" * 3000
USER_BYTES = b"\x01\x7f\xff\"\\name"  # base64 in Authorization: any byte gets through


def raw_request(port, target=b"/", headers=()):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                  + b"".join(b"%s: %s\r\n" % h for h in headers) + b"\r\n")
        return read_response(s)


def hostile_headers(i):
    credentials = base64.b64encode(USER_BYTES + b":pw%d" % i)
    return [(b"X-Hostile", HEADER_BYTES + b" %d" % i), (b"User-Agent", b"agent \"\\\xff"),
            (b"Referer", b"http://r/\"\\"), (b"X-Long", LONG), (b"Authorization", b"Basic " + credentials),
            (b"X-Request-Id", b"id-%d" % i)]


def lines_of(path, count, timeout=15):
    return wait_for(lambda: (t := Path(path).read_bytes().splitlines()) and len(t) >= count and t, timeout,
                    "%d access lines in %s" % (count, path))


def check_hostile(entry):
    i = int(entry["request_headers"]["x-request-id"][3:])
    headers = entry["request_headers"]
    assert headers["x-hostile"].encode("latin-1") == HEADER_BYTES + b" %d" % i
    assert headers["x-long"].encode("latin-1") == LONG
    assert headers["authorization"] == "[redacted]"
    assert entry["response_headers"]["x-echo"] == headers["x-hostile"]
    assert entry["user_agent"].encode("latin-1") == b"agent \"\\\xff"
    assert entry["referer"] == "http://r/\"\\"
    # Credentials are decoded as UTF-8, as Gunicorn's u atom does: 0xff is not UTF-8.
    assert entry["user"] == "\x01\x7f\ufffd\"\\name"
    assert entry["request_line"] == "GET /p%01%7f%ff/%22q%5c?a=%22&b=%5C%01 HTTP/1.1"
    assert entry["path"] == "/p\x01\x7f\xff/\"q\\"
    assert entry["query"] == "a=%22&b=%5C%01"
    assert entry["status"] == 200 and entry["method"] == "GET" and entry["protocol"] == "HTTP/1.1"
    assert entry["environ"]["app.hostile"] == HOSTILE_ENVIRON
    return i


def test_every_line_is_json_with_hostile_values_under_two_workers(serve, tmp_path):
    log = tmp_path / "access.json"
    server = serve("jsonlogapp:app", "-w", "2", "--access-log-json", "--access-logfile", str(log),
                   "--access-log-json-fields", "time,remote_addr,user,request_line,method,path,query,protocol,"
                   "status,bytes,referer,user_agent,duration,duration_us,pid,request_headers,response_headers,"
                   "request_headers.authorization,environ.app.hostile")
    wait_for(lambda: len(workers(server.pid)) == 2, 20, "2 workers")
    # The explicitly named authorization header is written; check it then drop it below.
    per_thread, threads = 25, 4
    answered = []

    def client(t):
        for k in range(per_thread):
            i = t * per_thread + k
            response = raw_request(server.port, b"/p%01%7f%ff/%22q%5c?a=%22&b=%5C%01", hostile_headers(i))
            answered.append((response[0], response[4]))

    pool = [threading.Thread(target=client, args=(t,)) for t in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert all(status == 200 for status, _ in answered), answered[:3]
    lines = lines_of(log, per_thread * threads)
    assert len(lines) == per_thread * threads
    seen, pids = set(), set()
    for raw in lines:
        assert all(0x20 <= b < 0x7f for b in raw), raw[:200]
        entry = json.loads(raw)
        assert entry["request_headers"]["authorization"].startswith("Basic ")
        entry["request_headers"]["authorization"] = "[redacted]"
        seen.add(check_hostile(entry))
        pids.add(entry["pid"])
        assert isinstance(entry["duration"], float) and isinstance(entry["duration_us"], int)
    assert seen == set(range(per_thread * threads))
    assert pids <= set(workers(server.pid)) and len(pids) >= 1
    answered_pids = {int(body.split(b"=")[1]) for _, body in answered}
    assert pids == answered_pids


def test_default_fields_redact_credentials_and_refused_bytes_leave_valid_lines(serve, tmp_path):
    log = tmp_path / "access.json"
    server = serve("jsonlogapp:app", "-w", "2", "--access-log-json", "--access-logfile", str(log))
    assert raw_request(server.port, b"/p%01%7f%ff/%22q%5c?a=%22&b=%5C%01", hostile_headers(7))[0] == 200
    # Control bytes in a header value are refused before the app: whatever is logged stays JSON.
    refused = [raw_request(server.port, b"/bad", [(b"X-Bad", bad)])[0] for bad in (b"a\x01b", b"a\x7fb")]
    assert refused == [400, 400]
    assert raw_request(server.port, b"/after", [(b"Cookie", b"session=secret")])[0] == 200
    lines = wait_for(lambda: (t := log.read_bytes().splitlines()) and any(b"/after" in x for x in t) and t, 15,
                     "the last request's line")
    entries = [json.loads(x) for x in lines]
    hostile = next(e for e in entries if e["path"].startswith("/p"))
    assert list(hostile) == ["time", "remote_addr", "user", "request_line", "method", "path", "query", "protocol",
                             "status", "bytes", "referer", "user_agent", "duration", "duration_s", "duration_ms",
                             "duration_us", "pid", "request_headers", "response_headers"]
    assert hostile["request_headers"]["authorization"] == "[redacted]"
    assert hostile["request_headers"]["x-hostile"].encode("latin-1") == HEADER_BYTES + b" 7"
    after = next(e for e in entries if e["path"] == "/after")
    assert after["request_headers"]["cookie"] == "[redacted]" and "b'" not in json.dumps(after)
    assert all(e["status"] in (200, 400) for e in entries)


def test_json_lines_reach_syslog(serve):
    udp = Udp()
    server = serve("jsonlogapp:app", "--access-log-json", "--access-log-json-fields", "status,path,request_headers.x-hostile",
                   "--log-syslog", "--log-syslog-to", "udp://127.0.0.1:%d" % udp.port)
    assert raw_request(server.port, b"/via-syslog", [(b"X-Hostile", HEADER_BYTES)])[0] == 200
    got = udp.collect(lambda p: any("/via-syslog" in x for x in p))
    packet = next(x for x in got if "/via-syslog" in x)
    entry = json.loads(packet[packet.index("{"):].rstrip("\x00\n"))
    assert entry == {"status": 200, "path": "/via-syslog",
                     "request_headers": {"x-hostile": HEADER_BYTES.decode("latin-1")}}
