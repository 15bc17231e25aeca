"""Narwhal's asgi worker, the event-loop side (ASGI 3.0; HTTP and WebSocket spec 2.4, lifespan 2.0).

Runs on the worker's main thread, the one that started Python. Kestrel, in C#, hands over
requests, body bytes, flush completions and disconnects through one queue and an eventfd
this loop watches; each wake-up takes a batch of events in one native call. Functions set
by the server (C#) before serve() runs:

  _drain()                              the events waiting: a list of tuples (see wake())
  _receive(id)                          (bytes, more_body) now; None: a BODY event follows;
                                        False: the body failed or the client left
  _send(id, status, headers, body, more)  True when sent, False when a FLUSHED event follows
  _complete(id, outcome)                the app is done with the request
  _ws_accept(id, subprotocol, headers)  an ACCEPTED event follows
  _ws_send(id, data, text)              True when sent, False when a FLUSHED event follows
  _ws_close(id, code, reason)
  _ready()                              lifespan startup is done: the worker may accept
  _called(token)                        a CALL event's function has run
  _stopped()                            the loop takes no more events
  _log(level, text)                     writes to the error log (41: an exception)
"""

import asyncio
import collections
import sys
import traceback

_drain = _receive = _send = _complete = _ws_accept = _ws_send = _ws_close = _ready = _called = _stopped = _log = None

INFO, WARNING, ERROR, EXCEPTION = 20, 30, 40, 41
DONE, ABORT, FAIL = 0, 1, 2
REQUEST, BODY, FLUSHED, GONE, ACCEPTED, MESSAGE, CLOSED, STOP, CALL = range(9)
EXIT_BOOT_ERROR = 3


class ClientDisconnected(OSError):
    """send() after the client left: an OSError, as ASGI spec 2.4 asks."""


# What a WebSocket handshake the app closed (or never accepted) is answered with.
_FORBIDDEN = [(b"content-type", b"text/plain"), (b"content-length", b"0")]


def _headers(message):
    """A message's headers as a sequence the server reads (a list or tuple as given; any other iterable listed)."""
    headers = message.get("headers", ())
    return headers if type(headers) in (list, tuple) else list(headers)


def _log_exception(message):
    _log(EXCEPTION, "%s\n%s" % (message, traceback.format_exc().rstrip("\n")))


class HttpCycle:
    """One HTTP request: the app's receive() and send(). The response head is held until
    the first body message, so a whole response goes to the server in one call."""

    __slots__ = ("server", "id", "scope", "has_body", "body_done", "start", "head_sent", "complete",
                 "gone", "reader", "flusher", "task", "status", "sent")

    def __init__(self, server, id, scope, has_body):
        self.server = server
        self.id = id
        self.scope = scope
        self.has_body = has_body
        self.body_done = False   # the last http.request message has been given
        self.start = None        # the http.response.start message, until its head is sent
        self.head_sent = False
        self.complete = False
        self.gone = False
        self.reader = None       # the future receive() waits on
        self.flusher = None      # the future send() waits on
        self.task = None
        self.status = None       # what post_request hooks are told
        self.sent = 0

    async def receive(self):
        if not self.body_done and not self.gone:
            if not self.has_body:
                self.body_done = True
                return {"type": "http.request", "body": b"", "more_body": False}
            got = _receive(self.id)
            if got is None:
                self.reader = fut = self.server.loop.create_future()
                try:
                    got = await fut
                finally:
                    self.reader = None
            if got:
                data, more = got
                if not more:
                    self.body_done = True
                return {"type": "http.request", "body": data, "more_body": more}
            self.gone = True
        elif self.body_done and not self.gone and not self.complete:
            # Nothing more to read: the next message is the client leaving (or the response ending).
            self.reader = fut = self.server.loop.create_future()
            try:
                await fut
            finally:
                self.reader = None
        return {"type": "http.disconnect"}

    async def send(self, message):
        kind = message["type"]
        if kind == "http.response.start":
            if self.start is not None or self.head_sent:
                raise RuntimeError("Unexpected ASGI message 'http.response.start' sent, after response already started.")
            self.start = message
            # Sent with the first body when that comes in the same step (one write, and a
            # Content-Length for a whole body); sent alone if the app waits first.
            self.server.loop.call_soon(self.send_head)
            return
        if kind == "http.response.body":
            if self.start is None and not self.head_sent:
                raise RuntimeError("Unexpected ASGI message 'http.response.body' sent, before 'http.response.start'.")
            if self.complete:
                raise RuntimeError("Unexpected ASGI message 'http.response.body' sent, after response already completed.")
            if self.gone:
                raise ClientDisconnected("client disconnected")
            if self.flusher is not None:
                await self.flushed()  # the head sent alone is still going out
            body = message.get("body", b"")
            more = message.get("more_body", False)
            start = self.start
            self.sent += len(body)
            if start is not None:
                self.start = None
                self.head_sent = True
                self.status = start
                sent = _send(self.id, start["status"], _headers(start), body, more)
            else:
                sent = _send(self.id, None, None, body, more)
            if not more:
                self.complete = True
                self.wake_reader(None)
            if not sent:
                self.flusher = self.server.loop.create_future()
                await self.flushed()
            return
        raise RuntimeError("Unexpected ASGI message '%s' sent, for an HTTP connection." % kind)

    async def flushed(self):
        """Waits for the flush under way; ClientDisconnected if the client left meanwhile."""
        try:
            ok = await self.flusher
        finally:
            self.flusher = None
        if not ok:
            self.gone = True
            raise ClientDisconnected("client disconnected")

    def send_head(self):
        """The loop's next turn after http.response.start: the head goes out if no body came with it."""
        start = self.start
        if start is None or self.complete or self.gone or self.id not in self.server.cycles:
            return  # sent with its body, or the app is done with the request
        try:
            sent = _send(self.id, start["status"], _headers(start), b"", True)
        except ClientDisconnected:
            self.gone = True
            return
        except Exception:
            return  # bad headers: the app's next send() raises it, where the app can see it
        self.start = None
        self.head_sent = True
        self.status = start
        if not sent:
            self.flusher = self.server.loop.create_future()

    def wake_reader(self, value):
        fut = self.reader
        if fut is not None and not fut.done():
            fut.set_result(value)

    def on_gone(self):
        self.gone = True
        self.wake_reader(False)
        fut = self.flusher
        if fut is not None and not fut.done():
            fut.set_result(False)
        self.server.cancel_later(self)

    async def run(self, app):
        hooks = self.server.hooks
        if hooks is not None:
            return await self.run_hooked(app, hooks)
        return await self.run_app(app)

    async def run_hooked(self, app, hooks):
        """pre_request before the app, post_request (and a Python access logger) after it, as Gunicorn's workers call them."""
        pre, post, access, config = hooks
        environ = _hook_environ(self.scope)
        request, started = config.before_request(pre, environ)
        try:
            await self.run_app(app)
        finally:
            start = self.status
            if start is None:
                status, headers = "500 Internal Server Error", [("Content-Type", "text/html")]
            else:
                code = start["status"]
                status = "%d %s" % (code, _REASONS.get(code, ""))
                headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in start.get("headers", ())]
            config.after_request(post, access, request, environ, status, headers, self.sent, started)

    async def run_app(self, app):
        outcome = FAIL
        try:
            await app(self.scope, self.receive, self.send)
            if self.complete:
                outcome = DONE
            elif self.start is not None:
                # A head and no body: an empty one ends the response.
                start, self.start = self.start, None
                self.head_sent = True
                self.status = start
                _send(self.id, start["status"], _headers(start), b"", False)
                outcome = DONE
            elif not self.head_sent:
                if not self.gone:
                    _log(ERROR, "ASGI callable returned without starting response.")
            else:
                if not self.gone:
                    _log(ERROR, "ASGI callable returned without completing response.")
                outcome = ABORT
        except asyncio.CancelledError:
            outcome = ABORT if self.head_sent or self.gone else FAIL
        except ClientDisconnected:
            outcome = ABORT
        except BaseException:
            _log_exception("Exception in ASGI application")
            outcome = ABORT if self.head_sent else FAIL
        finally:
            self.server.forget(self)
            _complete(self.id, outcome)


def _hook_environ(scope):
    """The WSGI-style environ Gunicorn's pre_request/post_request hooks read, from an HTTP scope."""
    raw = scope["raw_path"].decode("latin-1")
    query = scope["query_string"].decode("latin-1")
    client = scope.get("client") or ("", 0)
    environ = {
        "REQUEST_METHOD": scope["method"],
        "RAW_URI": raw + ("?" + query if query else ""),
        "PATH_INFO": scope["path"],
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/" + scope["http_version"],
        "wsgi.url_scheme": scope["scheme"],
        "REMOTE_ADDR": client[0],
        "asgi.scope": scope,
    }
    for name, value in scope["headers"]:
        key = name.decode("latin-1").upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        value = value.decode("latin-1")
        environ[key] = environ[key] + "," + value if key in environ else value
    return environ


try:
    from http import HTTPStatus as _Status
    _REASONS = {s.value: s.phrase for s in _Status}
except ImportError:  # pragma: no cover
    _REASONS = {}


# WebSocketCycle.state
WS_CONNECTING, WS_HANDSHAKE, WS_OPEN, WS_CLOSING, WS_CLOSED = range(5)


class WebSocketCycle:
    """One WebSocket: the handshake waits for websocket.accept; messages queue as they come."""

    __slots__ = ("server", "id", "scope", "state", "inbox", "waiter", "flusher", "task", "close_code",
                 "rejecting", "head_sent", "complete")

    def __init__(self, server, id, scope):
        self.server = server
        self.id = id
        self.scope = scope
        self.state = WS_CONNECTING
        self.inbox = collections.deque()
        self.waiter = None
        self.flusher = None
        self.task = None
        self.close_code = None
        self.rejecting = None    # websocket.http.response.start, before its body
        self.head_sent = False
        self.complete = False

    async def receive(self):
        if self.state == WS_CONNECTING:
            self.state = WS_HANDSHAKE
            return {"type": "websocket.connect"}
        while not self.inbox:
            if self.close_code is not None:
                return {"type": "websocket.disconnect", "code": self.close_code}
            self.waiter = fut = self.server.loop.create_future()
            try:
                await fut
            finally:
                self.waiter = None
        return self.inbox.popleft()

    def push(self, message):
        self.inbox.append(message)
        self.wake()

    def wake(self):
        fut = self.waiter
        if fut is not None and not fut.done():
            fut.set_result(None)

    async def _wait_flush(self):
        self.flusher = fut = self.server.loop.create_future()
        try:
            return await fut
        finally:
            self.flusher = None

    async def send(self, message):
        kind = message["type"]
        if kind == "websocket.accept":
            if self.state not in (WS_CONNECTING, WS_HANDSHAKE):
                raise RuntimeError("Unexpected ASGI message 'websocket.accept' sent, after the handshake.")
            _ws_accept(self.id, message.get("subprotocol"), _headers(message))
            self.head_sent = True
            if not await self._wait_flush():
                self.state = WS_CLOSED
                self.close_code = 1006
                raise ClientDisconnected("client disconnected during the WebSocket handshake")
            if self.state == WS_HANDSHAKE:  # not closed meanwhile
                self.state = WS_OPEN
            return
        if kind == "websocket.send":
            if self.state != WS_OPEN:
                if self.state in (WS_CLOSING, WS_CLOSED):
                    raise ClientDisconnected("the WebSocket is closed")
                raise RuntimeError("Unexpected ASGI message 'websocket.send', before 'websocket.accept'.")
            text = message.get("text")
            if text is not None:
                sent = _ws_send(self.id, text.encode("utf-8"), True)
            else:
                sent = _ws_send(self.id, message.get("bytes") or b"", False)
            if not sent and not await self._wait_flush():
                raise ClientDisconnected("the WebSocket is closed")
            return
        if kind == "websocket.close":
            if self.state in (WS_CONNECTING, WS_HANDSHAKE):
                # Closed before accepting: the handshake gets a 403 (spec 2.4).
                self.head_sent = True
                self.complete = True
                _send(self.id, 403, _FORBIDDEN, b"", False)
                self.state = WS_CLOSED
                self.close_code = message.get("code", 1000)
                return
            if self.state == WS_OPEN:
                self.state = WS_CLOSING
                _ws_close(self.id, message.get("code", 1000), message.get("reason") or "")
            return
        if kind == "websocket.http.response.start":
            if self.state not in (WS_CONNECTING, WS_HANDSHAKE) or self.rejecting is not None:
                raise RuntimeError("Unexpected ASGI message '%s' sent." % kind)
            self.rejecting = message
            return
        if kind == "websocket.http.response.body":
            start = self.rejecting
            if start is None or self.complete:
                raise RuntimeError("Unexpected ASGI message '%s' sent." % kind)
            more = message.get("more_body", False)
            if not self.head_sent:
                self.head_sent = True
                sent = _send(self.id, start["status"], _headers(start),
                             message.get("body", b""), more)
            else:
                sent = _send(self.id, None, None, message.get("body", b""), more)
            if not more:
                self.complete = True
                self.state = WS_CLOSED
                self.close_code = 1000
            if not sent and not await self._wait_flush():
                raise ClientDisconnected("client disconnected")
            return
        raise RuntimeError("Unexpected ASGI message '%s' sent, for a WebSocket." % kind)

    def on_flushed(self, ok):
        fut = self.flusher
        if fut is not None and not fut.done():
            fut.set_result(ok)

    def on_closed(self, code):
        if self.close_code is None:
            self.close_code = code
        self.state = WS_CLOSED
        self.push({"type": "websocket.disconnect", "code": code})
        self.on_flushed(False)
        self.server.cancel_later(self)

    def on_gone(self):
        if self.state in (WS_CONNECTING, WS_HANDSHAKE):
            self.on_closed(1006)

    async def run(self, app):
        outcome = FAIL
        try:
            await app(self.scope, self.receive, self.send)
            if self.state in (WS_CONNECTING, WS_HANDSHAKE) and not self.head_sent:
                # Returned without accepting: as a close before accept.
                _send(self.id, 403, _FORBIDDEN, b"", False)
                self.head_sent = True
            outcome = DONE
        except asyncio.CancelledError:
            outcome = ABORT if self.head_sent else FAIL
        except ClientDisconnected:
            outcome = ABORT
        except BaseException:
            _log_exception("Exception in ASGI application")
            outcome = ABORT if self.head_sent else FAIL
        finally:
            self.server.forget(self)
            _complete(self.id, outcome)


class Lifespan:
    """The lifespan protocol (2.0) around serving: startup before the first request, shutdown after the last."""

    def __init__(self, app, mode, loop):
        self.app = app
        self.mode = mode
        self.loop = loop
        self.state = {}
        self.supported = mode != "off"
        self.messages = asyncio.Queue()
        self.startup_done = loop.create_future()
        self.shutdown_done = loop.create_future()
        self.task = None
        self.failure = None

    async def receive(self):
        return await self.messages.get()

    async def send(self, message):
        kind = message["type"]
        if kind in ("lifespan.startup.complete", "lifespan.startup.failed"):
            if not self.startup_done.done():
                self.startup_done.set_result(message)
        elif kind in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
            if not self.shutdown_done.done():
                self.shutdown_done.set_result(message)
        else:
            raise RuntimeError("Unexpected ASGI message '%s' sent, for the lifespan." % kind)

    async def main(self):
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": self.state}
        try:
            await self.app(scope, self.receive, self.send)
        except BaseException as exc:
            if not self.startup_done.done():
                self.failure = traceback.format_exc().rstrip("\n")
                self.startup_done.set_result(None)
            elif not self.shutdown_done.done():
                _log_exception("Exception in 'lifespan' protocol")
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
        finally:
            if not self.startup_done.done():
                self.startup_done.set_result(None)
            if not self.shutdown_done.done():
                self.shutdown_done.set_result(None)

    async def startup(self):
        """True to serve; False when the app failed its startup (the worker exits 3)."""
        if not self.supported:
            return True
        self.messages.put_nowait({"type": "lifespan.startup"})
        self.task = self.loop.create_task(self.main())
        message = await self.startup_done
        if message is None:
            # The app raised or returned on the lifespan scope without answering.
            if self.mode == "on":
                if self.failure:
                    _log(ERROR, "Exception in 'lifespan' protocol\n%s" % self.failure)
                _log(ERROR, "Application startup failed. Exiting.")
                return False
            self.supported = False
            _log(INFO, "ASGI 'lifespan' protocol appears unsupported.")
            return True
        if message["type"] == "lifespan.startup.failed":
            if message.get("message"):
                _log(ERROR, message["message"])
            _log(ERROR, "Application startup failed. Exiting.")
            return False
        return True

    async def shutdown(self, timeout):
        if not self.supported or self.task is None:
            return
        self.messages.put_nowait({"type": "lifespan.shutdown"})
        try:
            message = await asyncio.wait_for(asyncio.shield(self.shutdown_done), timeout)
        except asyncio.TimeoutError:
            _log(WARNING, "Lifespan shutdown did not finish within %.0f s" % timeout)
            self.task.cancel()
            return
        if message is not None and message["type"] == "lifespan.shutdown.failed" and message.get("message"):
            _log(ERROR, message["message"])


class Server:
    def __init__(self, app, loop, fd, lifespan, grace, graceful_timeout):
        self.app = app
        self.loop = loop
        self.fd = fd
        self.cycles = {}
        self.lifespan = Lifespan(app, lifespan, loop)
        self.grace = grace
        self.graceful_timeout = graceful_timeout
        self.stopping = loop.create_future()
        self.hooks = _request_hooks()

    def forget(self, cycle):
        self.cycles.pop(cycle.id, None)

    def cancel_later(self, cycle):
        """The client left: the task has the grace period to finish (it got http.disconnect), then is cancelled."""
        task = cycle.task
        if task is None or task.done():
            return
        if self.grace <= 0:
            task.cancel()
        else:
            self.loop.call_later(self.grace, task.cancel)

    def wake(self):
        """Takes the events the server posted; called by the loop when the eventfd is readable."""
        cycles = self.cycles
        for event in _drain():
            kind = event[0]
            if kind == REQUEST:
                _, id, scope, has_body, websocket = event
                if self.lifespan.supported:
                    state = self.lifespan.state
                    scope["state"] = state.copy() if state else {}
                cycle = WebSocketCycle(self, id, scope) if websocket else HttpCycle(self, id, scope, has_body)
                cycles[id] = cycle
                cycle.task = self.loop.create_task(cycle.run(self.app))
                continue
            if kind == STOP:
                if not self.stopping.done():
                    self.stopping.set_result(None)
                continue
            if kind == CALL:
                # A hook or a log line from another thread: run here, on the loop's thread.
                self.loop.call_soon(run_call, event[1], event[2], event[3])
                continue
            cycle = cycles.get(event[1])
            if cycle is None:
                continue
            if kind == BODY:
                cycle.wake_reader(None if event[2] is None else (event[2], event[3]))
                if event[2] is None:
                    cycle.gone = True
            elif kind == FLUSHED:
                if type(cycle) is HttpCycle:
                    fut = cycle.flusher
                    if fut is not None and not fut.done():
                        fut.set_result(event[2])
                else:
                    cycle.on_flushed(event[2])
            elif kind == GONE:
                cycle.on_gone()
            elif kind == ACCEPTED:
                cycle.on_flushed(event[2])
            elif kind == MESSAGE:
                data = event[2]
                if type(data) is str:
                    cycle.push({"type": "websocket.receive", "text": data})
                else:
                    cycle.push({"type": "websocket.receive", "bytes": data})
            elif kind == CLOSED:
                cycle.on_closed(event[2])

    async def main(self):
        if not await self.lifespan.startup():
            return EXIT_BOOT_ERROR
        self.loop.add_reader(self.fd, self.wake)
        _ready()
        self.wake()  # anything posted before the reader was added
        await self.stopping
        # The server has let connections finish within the graceful timeout: cancel what is left.
        tasks = [c.task for c in list(self.cycles.values()) if c.task is not None and not c.task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=2)
        self.loop.remove_reader(self.fd)
        _stopped()
        await self.lifespan.shutdown(max(self.graceful_timeout, 1))
        return 0


def run_call(token, fn, args):
    """A CALL event: fn(*args) for another thread, which waits for _called(token)."""
    try:
        fn(*args)
    except BaseException:
        _log_exception("Exception in a call for the server")
    finally:
        _called(token)


_loop_thread = None


def loop_stack():
    """The loop thread's stack, read from another thread (the --timeout watchdog's report)."""
    frame = sys._current_frames().get(_loop_thread)
    return "".join(traceback.format_stack(frame)).rstrip("\n") if frame is not None else "(no stack)"


def _request_hooks():
    """(pre, post, access, config) when the config file has pre_request/post_request hooks or a
    Python access logger; None otherwise, so requests pay for them only when they exist."""
    config = sys.modules.get("narwhal_config")
    if config is None:
        return None
    pre, post, access = config.request_hooks()
    if pre is None and post is None and access is None:
        return None
    return pre, post, access, config


def new_loop(kind):
    if kind in ("auto", "uvloop"):
        try:
            import uvloop
        except ImportError:
            if kind == "uvloop":
                raise
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def serve(app, fd, loop_kind, lifespan, grace, graceful_timeout):
    """Runs the worker's event loop until the server posts STOP; returns the worker's exit code."""
    global _loop_thread
    import threading
    _loop_thread = threading.get_ident()
    loop = new_loop(loop_kind)
    asyncio.set_event_loop(loop)
    server = Server(app, loop, fd, lifespan, grace, graceful_timeout)
    try:
        return loop.run_until_complete(server.main())
    finally:
        _stopped()
        try:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.wait(pending, timeout=1))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            asyncio.set_event_loop(None)
            loop.close()
