"""A keep-alive HTTP/1.1 load that remembers every answer it got, request by request.

wrk counts answers but cannot say which request got one, and it stops with requests in
flight that the server still answers and logs. This client gives each request a unique id
in its path (/r/<process>.<connection>.<n>), and keeps the id of every 200 answer it read
to the end, so a test can match log lines to requests one for one. Several processes
(fork), each driving its connections from one selector loop, one request in flight per
connection (no pipelining).
"""

import multiprocessing
import selectors
import socket
import time

_CONTEXT = multiprocessing.get_context("fork")


class Result:
    def __init__(self):
        self.answered = []  # ids of the requests answered 200, in no particular order
        self.failed = 0     # requests sent whose answer never came whole, or was not a 200
        self.sent = 0


class KeepAliveLoad:
    """Starts at once; `result()` waits for the end. Stops after `requests` requests in all, or
    when `seconds` have passed (what is in flight then is still read), whichever comes first."""

    def __init__(self, port, connections=32, processes=4, requests=None, seconds=None, prefix="/r/"):
        assert requests or seconds, "give a number of requests or a duration"
        self.progress = _CONTEXT.Value("q", 0, lock=False)  # answers so far, roughly (per 100)
        self._workers = []
        for p in range(processes):
            conns = connections // processes + (1 if p < connections % processes else 0)
            quota = None if requests is None else requests // processes + (1 if p < requests % processes else 0)
            reader, writer = _CONTEXT.Pipe(duplex=False)
            proc = _CONTEXT.Process(target=_drive, daemon=True,
                                    args=(port, prefix, p, conns, quota, seconds, self.progress, writer))
            proc.start()
            writer.close()
            self._workers.append((proc, reader))

    def result(self, timeout=120):
        total = Result()
        for proc, reader in self._workers:
            if not reader.poll(timeout):
                proc.kill()
                raise AssertionError("load process %d did not finish in %ss" % (proc.pid, timeout))
            answered, failed, sent = reader.recv()
            proc.join()
            total.answered += answered
            total.failed += failed
            total.sent += sent
        return total


class _Connection:
    def __init__(self, port, name):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.name = name
        self.count = 0
        self.current = None
        self.buffer = b""


def _drive(port, prefix, index, connections, quota, seconds, progress, out):
    deadline = None if seconds is None else time.monotonic() + seconds
    answered, failed, sent = [], 0, 0
    selector = selectors.DefaultSelector()
    live = 0

    def more():
        return (quota is None or sent < quota) and (deadline is None or time.monotonic() < deadline)

    def send(conn):
        nonlocal sent
        conn.current = "%d.%s.%d" % (index, conn.name, conn.count)
        conn.count += 1
        sent += 1
        # Small enough for the socket buffer: one send() takes it whole.
        conn.sock.send(("GET %s%s HTTP/1.1\r\nHost: load\r\n\r\n" % (prefix, conn.current)).encode())

    def open_one(name):
        nonlocal live
        conn = _Connection(port, name)
        selector.register(conn.sock, selectors.EVENT_READ, conn)
        live += 1
        send(conn)

    def close(conn):
        nonlocal live
        selector.unregister(conn.sock)
        conn.sock.close()
        live -= 1

    for c in range(connections):
        if more():
            open_one(str(c))
    reconnects = 0
    while live:
        events = selector.select(timeout=10)
        if not events:
            break  # the server stopped answering: what is in flight failed
        for key, _ in events:
            conn = key.data
            try:
                data = conn.sock.recv(65536)
            except (ConnectionError, BlockingIOError):
                data = b""
            if not data:
                failed += 1
                close(conn)
                if more():
                    reconnects += 1
                    open_one("%s~%d" % (conn.name, reconnects))
                continue
            conn.buffer += data
            status, rest = _response(conn.buffer)
            if status is None:
                continue
            conn.buffer = rest
            if status == 200:
                answered.append(conn.current)
                if len(answered) % 100 == 0:
                    progress.value += 100
            else:
                failed += 1
            if more():
                send(conn)
            else:
                close(conn)
    failed += live  # connections still waiting after the 10 s silence above
    out.send((answered, failed, sent))
    out.close()


def _response(buffer):
    """(status, what follows) once a whole response with a Content-Length is in buffer, else (None, buffer)."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None, buffer
    head = buffer[:end].lower()
    at = head.find(b"\r\ncontent-length:")
    if at < 0:
        raise AssertionError("the load client needs a Content-Length: %r" % head)
    start = at + len(b"\r\ncontent-length:")
    stop = head.find(b"\r\n", start)
    length = int(head[start:stop if stop >= 0 else len(head)])
    if len(buffer) < end + 4 + length:
        return None, buffer
    return int(head[9:12]), buffer[end + 4 + length:]
