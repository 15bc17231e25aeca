"""Narwhal's tornado worker: a Tornado application served on the asgi worker's event loop.

asgi_app(app) returns the ASGI callable that serves app: a tornado.web.Application (or any
HTTPServerConnectionDelegate), or a WSGI callable through tornado.wsgi.WSGIContainer, as
Gunicorn's TornadoWorker takes them.

Tornado's HTTPServer reads requests from an IOStream with HTTP1Connection and hands them to
the app's delegate. Here Kestrel parses HTTP and the ASGI scope brings the request; this
module plays HTTP1Connection's part over one scope (tornado/http1connection.py in Tornado
6.2 is the model followed step by step):

  :: 1. delegate = app.start_request(server_conn, request_conn)
  :: 2. delegate.headers_received(RequestStartLine, HTTPHeaders), awaited if it returns a future
        (a @stream_request_body handler's prepare())
  :: 3. delegate.data_received(chunk) per body chunk, its flow-control future awaited
  :: 4. delegate.finish(); the handler answers through write_headers()/write()/finish()
  :: 5. the client leaving before the response ends: delegate.on_connection_close() while the
        body is read, the close callback (RequestHandler.on_connection_close) after

The request's coroutine sends what the handler writes, in order (the pump); a second task reads
the body and then waits for http.disconnect. WebSocketHandler gets a WebSocketProtocol over the
ASGI websocket scope in place of WebSocketProtocol13 (see _WebSocketProtocol).
"""

import asyncio
import collections
import inspect
import socket
import sys

from tornado import httputil, iostream, websocket
from tornado.log import app_log, gen_log
from tornado.wsgi import WSGIContainer

# Tornado's own default: HTTP1ConnectionParameters.max_body_size falls back to the
# IOStream's max_buffer_size, 100 MiB, which is what Gunicorn's TornadoWorker runs with.
MAX_BODY_SIZE = 100 * 1024 * 1024

# Framing is the server's: Tornado's own headers for it would contradict what goes on the wire.
# (HTTPHeaders keeps names as _normalize_header writes them: "Transfer-Encoding".)
_FRAMING = frozenset(("Transfer-Encoding", "Keep-Alive"))
# Set by the server on a 101 (or already given to websocket.accept separately).
_HANDSHAKE = frozenset(("upgrade", "connection", "sec-websocket-accept", "sec-websocket-protocol",
                        "sec-websocket-extensions", "content-length", "transfer-encoding", "content-type"))

_ERROR_PAGE = b"<html><title>500: Internal Server Error</title><body>500: Internal Server Error</body></html>"


def asgi_app(app):
    """The ASGI callable serving app; TypeError when app is neither a Tornado app nor a WSGI callable."""
    if isinstance(app, httputil.HTTPServerConnectionDelegate):
        return TornadoAsgi(app)
    if isinstance(app, WSGIContainer):
        return TornadoAsgi(_WsgiDelegate(app))
    if not callable(app):
        raise TypeError("the tornado worker serves a tornado.web.Application (an HTTPServerConnectionDelegate) "
                        "or a WSGI callable, not %s" % _describe(app))
    if inspect.iscoroutinefunction(app) or inspect.iscoroutinefunction(getattr(app, "__call__", None)):
        raise TypeError("the tornado worker serves a tornado.web.Application or a WSGI callable; %s is an "
                        "ASGI app: serve it with -k asgi" % _describe(app))
    # Gunicorn's TornadoWorker: "Assume the app is a WSGI callable if its not an instance of
    # tornado.web.Application or WSGIContainer".
    return TornadoAsgi(_WsgiDelegate(WSGIContainer(app)))


def _describe(app):
    kind = type(app)
    return "%r (a %s.%s)" % (app, kind.__module__, kind.__qualname__)


class TornadoAsgi:
    """ASGI 3 callable over a Tornado HTTPServerConnectionDelegate (http and websocket scopes)."""

    def __init__(self, delegate):
        self.delegate = delegate

    async def __call__(self, scope, receive, send):
        kind = scope["type"]
        if kind == "http":
            await _HttpConnection(scope, receive, send).serve(self.delegate)
        elif kind == "websocket":
            await _WebSocketConnection(scope, receive, send).serve(self.delegate)
        else:
            # Tornado has no lifespan protocol (the worker runs with it off).
            raise RuntimeError("a Tornado app serves http and websocket scopes, not %r" % kind)


class _Context:
    """What HTTPServerRequest and Tornado's logging read from HTTP1Connection.context
    (httpserver._HTTPRequestContext): the client as the server's scope gives it."""

    __slots__ = ("address", "address_family", "remote_ip", "protocol", "trusted_downstream")

    def __init__(self, scope):
        client = scope.get("client")
        if client:
            self.address = (client[0], client[1])
            self.remote_ip = client[0]
            self.address_family = socket.AF_INET6 if ":" in client[0] else socket.AF_INET
        else:
            # A UNIX socket: what Tornado says for a peer that is not an IP address.
            self.address = None
            self.remote_ip = "0.0.0.0"
            self.address_family = socket.AF_UNIX
        self.protocol = "https" if scope.get("scheme") in ("https", "wss") else "http"
        self.trusted_downstream = set()

    def __str__(self):
        return self.remote_ip


def _start_line(scope, method):
    raw = scope.get("raw_path")
    path = raw.decode("latin-1") if raw else scope["path"]
    query = scope.get("query_string")
    if query:
        path += "?" + query.decode("latin-1")
    return httputil.RequestStartLine(method, path, "HTTP/" + scope.get("http_version", "1.1"))


def _request_headers(scope):
    headers = httputil.HTTPHeaders()
    add = headers.add
    for name, value in scope["headers"]:
        add(name.decode("latin-1"), value.decode("latin-1"))
    return headers


def _failed(loop, error):
    fut = loop.create_future()
    fut.set_exception(error)
    fut.exception()  # retrieved: no "exception was never retrieved" when the app ignores it
    return fut


class _Connection(httputil.HTTPConnection):
    """Tornado's HTTPConnection over one ASGI scope: what the handler writes is queued with the
    future write_headers()/write() returned, and the scope's coroutine sends it in order."""

    closed_error = iostream.StreamClosedError

    def __init__(self, scope, receive, send):
        self.loop = asyncio.get_running_loop()
        self.scope = scope
        self.receive = receive
        self.send = send
        self.context = _Context(scope)
        self.outbox = collections.deque()   # [message, future or None], not sent yet
        self.wakeup = None                  # the future the pump sleeps on
        self.head_written = False
        self.finished = False               # finish() was called: nothing more to send after the outbox
        self.closed = False                 # the client left
        self.close_callback = None
        self.expected = None                # Content-Length not written yet

    # --- HTTPConnection ------------------------------------------------------------------

    def set_close_callback(self, callback):
        self.close_callback = callback

    def set_body_timeout(self, timeout):
        """Accepted and unused: the server's own limits time the body (--timeout, Kestrel's rates)."""

    def set_max_body_size(self, max_body_size):
        self.max_body_size = max_body_size

    def detach(self):
        raise NotImplementedError("the tornado worker cannot detach the connection (it belongs to the server); "
                                  "WebSocketHandler is served through the ASGI websocket scope")

    # --- the outbox and its pump ---------------------------------------------------------

    def queue(self, message, with_future=True):
        """Queues an ASGI message; its future resolves once the server took it."""
        if self.closed or self.finished:
            return _failed(self.loop, self.closed_error())
        return self.enqueue(message, with_future)

    def enqueue(self, message, with_future):
        """Appends to the outbox and wakes the pump; the message's future, or None."""
        fut = self.loop.create_future() if with_future else None
        self.outbox.append([message, fut])
        wakeup = self.wakeup
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)
        return fut

    def done(self):
        return self.closed or (self.finished and not self.outbox)

    async def pump(self):
        outbox = self.outbox
        send = self.send
        while True:
            while outbox:
                message, fut = outbox.popleft()
                if self.closed:
                    self.fail(fut)
                    continue
                try:
                    await send(message)
                except OSError:  # the server's ClientDisconnected: the client left
                    self.fail(fut)
                    self.send_failed()
                    continue
                if fut is not None and not fut.done():
                    fut.set_result(None)
            if self.done():
                return
            self.wakeup = self.loop.create_future()
            try:
                await self.wakeup
            finally:
                self.wakeup = None

    def fail(self, fut):
        if fut is not None and not fut.done():
            fut.set_exception(self.closed_error())
            fut.exception()

    def send_failed(self):
        self.gone()

    def gone(self):
        """The client left: pending writes fail, the close callback runs (HTTP1Connection._on_connection_close)."""
        if self.closed:
            return
        self.closed = True
        for _, fut in self.outbox:
            self.fail(fut)
        self.outbox.clear()
        wakeup = self.wakeup
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)
        callback, self.close_callback = self.close_callback, None
        if callback is not None:
            _logged(callback)


FAILED = object()


def _logged(fn, *args):
    """Calls a delegate method as HTTP1Connection does (_ExceptionLoggingContext(app_log)):
    an exception is logged and FAILED returned."""
    try:
        return fn(*args)
    except Exception:
        app_log.error("Uncaught exception", exc_info=True)
        return FAILED


class _HttpConnection(_Connection):
    """One HTTP request."""

    def __init__(self, scope, receive, send):
        super().__init__(scope, receive, send)
        self.method = scope["method"]
        self.max_body_size = MAX_BODY_SIZE
        self.reading = True  # the body is still being read (delegate.on_connection_close applies)

    def write_headers(self, start_line, headers, chunk=None):
        if self.head_written:
            raise httputil.HTTPOutputError("write_headers() called twice")
        self.head_written = True
        code = start_line.code
        if self.method == "HEAD" or code == 304:
            self.expected = 0
        elif "Content-Length" in headers:
            self.expected = int(headers["Content-Length"])
        # Names as Tornado spells them ("Set-Cookie"), so the wire reads as under Tornado's
        # HTTPServer; Narwhal takes response header names in any case.
        items = []
        append = items.append
        for name, value in headers.get_all():
            if name in _FRAMING or (name == "Connection" and value.lower() != "close"):
                continue
            append((name.encode("latin-1"), (value if type(value) is str else str(value)).encode("latin-1")))
        fut = self.queue({"type": "http.response.start", "status": code, "headers": items}, with_future=not chunk)
        if chunk:
            return self.write(chunk)
        return fut

    def write(self, chunk):
        if self.expected is not None and chunk:
            self.expected -= len(chunk)
            if self.expected < 0:
                self.abort()
                raise httputil.HTTPOutputError("Tried to write more data than Content-Length")
        return self.queue({"type": "http.response.body", "body": chunk, "more_body": True})

    def finish(self):
        if self.expected and not self.closed:
            remaining = self.expected
            self.abort()
            raise httputil.HTTPOutputError("Tried to write %d bytes less than Content-Length" % remaining)
        if self.finished or self.closed:
            return
        outbox = self.outbox
        if outbox and outbox[-1][0]["type"] == "http.response.body":
            outbox[-1][0]["more_body"] = False  # the last chunk ends the response: one write for a whole body
            self.finished = True
        else:
            self.queue({"type": "http.response.body", "body": b"", "more_body": False}, with_future=False)
            self.finished = True

    def abort(self):
        """Tornado closes the stream on a framing error: the response is cut (the server closes the connection)."""
        self.expected = None
        self.gone()

    def send_failed(self):
        if self.reading:
            self.reading = False
            self.gone_while_reading()
        else:
            self.gone()

    def respond_error(self, status, body, close=False):
        """A response of the connection's own (a failed delegate, a body over the limit) when the head is not out yet."""
        if self.head_written or self.closed:
            return
        self.head_written = True
        headers = [(b"content-type", b"text/html; charset=UTF-8"), (b"content-length", b"%d" % len(body))]
        if close:
            headers.append((b"connection", b"close"))
        self.queue({"type": "http.response.start", "status": status, "headers": headers}, with_future=False)
        self.queue({"type": "http.response.body", "body": body, "more_body": False}, with_future=False)
        self.finished = True

    def delegate_failed(self):
        # HTTP1Connection closes the connection without answering; a 500 tells the client more.
        self.respond_error(500, _ERROR_PAGE)
        self.reading = False

    async def serve(self, app):
        # :: Step 1
        self.delegate = delegate = app.start_request(self, self)
        try:
            # :: Step 2
            self.request_headers = headers = _request_headers(self.scope)
            started = _logged(delegate.headers_received, _start_line(self.scope, self.method), headers)
            if started is FAILED:
                self.delegate_failed()
            elif started is not None:
                try:
                    await started
                except Exception:
                    app_log.error("Uncaught exception", exc_info=True)
                    self.delegate_failed()
            reader = self.loop.create_task(self.read()) if not self.finished else None
            await self.pump()
            if reader is not None and self.reading and not reader.done():
                reader.cancel()  # the response ended before the body was read (the server drains or closes)
        finally:
            if not self.done():
                # Cancelled by the server (a stop past --graceful-timeout): the handler is told
                # its client is gone, as when the connection drops.
                self.gone()
            _logged(app.on_close, self)

    async def read(self):
        """:: Steps 3 to 5: the body, then http.disconnect (or the response's end)."""
        delegate = self.delegate
        receive = self.receive
        size = 0
        declared = self.request_headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_size:
            self.body_too_large()
            return
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.reading = False
                self.gone_while_reading()
                return
            chunk = message.get("body", b"")
            if chunk and not self.finished:
                size += len(chunk)
                if size > self.max_body_size:
                    self.body_too_large()
                    return
                flow = _logged(delegate.data_received, chunk)
                if flow is FAILED:
                    self.delegate_failed()
                    return
                if flow is not None:
                    await flow
            if not message.get("more_body", False):
                break
        self.reading = False
        if not self.finished:
            # (HTTP1Connection skips finish() when the response ended first.)
            if _logged(delegate.finish) is FAILED:
                self.delegate_failed()
                return
        # :: Step 5, after the body: the next message is the client leaving, or the response ending.
        if not self.done():
            await receive()
            if not (self.finished and not self.outbox):
                self.gone()

    def body_too_large(self):
        """HTTP1Connection's answer to a body over max_body_size: a 400, the connection closed."""
        gen_log.info("Malformed HTTP message from %s: %s", self.context, "Content-Length too long")
        self.respond_error(400, b"", close=True)
        self.reading = False
        self.close_callback = None
        _logged(self.delegate.on_connection_close)

    def gone_while_reading(self):
        if self.closed:
            return
        self.close_callback = None  # HTTP1Connection tells the delegate, not the callback, while reading
        self.gone()
        _logged(self.delegate.on_connection_close)


class _WebSocketConnection(_Connection):
    """The handshake request of a WebSocket: a 101 from the handler is websocket.accept, any other
    response a refusal (websocket.http.response.*, as a check_origin 403 or a 426 are)."""

    closed_error = websocket.WebSocketClosedError

    def __init__(self, scope, receive, send):
        super().__init__(scope, receive, send)
        self.accepted = False
        self.ended = False  # the socket is closed (websocket.disconnect seen) or was never opened

    def done(self):
        if self.accepted:
            return self.ended and not self.outbox
        return self.closed or (self.finished and not self.outbox)

    def write_headers(self, start_line, headers, chunk=None):
        if self.head_written:
            raise httputil.HTTPOutputError("write_headers() called twice")
        self.head_written = True
        if start_line.code == 101:
            self.accepted = True
            items = [(n.lower().encode("latin-1"), str(v).encode("latin-1")) for n, v in headers.get_all()
                     if n.lower() not in _HANDSHAKE and n.lower() != "date"]
            subprotocol = headers.get("Sec-WebSocket-Protocol")
            return self.queue({"type": "websocket.accept", "subprotocol": subprotocol, "headers": items})
        items = [(n.encode("latin-1"), str(v).encode("latin-1")) for n, v in headers.get_all()
                 if n not in _FRAMING]
        fut = self.queue({"type": "websocket.http.response.start", "status": start_line.code, "headers": items},
                         with_future=not chunk)
        return self.write(chunk) if chunk else fut

    def write(self, chunk):
        if self.accepted:
            raise RuntimeError("Method not supported for Web Sockets")
        return self.queue({"type": "websocket.http.response.body", "body": chunk, "more_body": True})

    def finish(self):
        if self.finished:
            return
        if not self.accepted:
            outbox = self.outbox
            if outbox and outbox[-1][0]["type"] == "websocket.http.response.body":
                outbox[-1][0]["more_body"] = False
            else:
                self.queue({"type": "websocket.http.response.body", "body": b"", "more_body": False},
                           with_future=False)
        self.finished = True

    def queue(self, message, with_future=True):
        if self.accepted and self.finished:
            # After the 101: messages and the close go out until the socket is closed.
            if self.closed:
                return _failed(self.loop, self.closed_error())
            return self.enqueue(message, with_future)
        return super().queue(message, with_future)

    def detach(self):
        """WebSocketHandler._detach_stream(): there is no stream to take over."""
        return None

    def refuse(self):
        """A failed delegate before any answer: the handshake gets a 500."""
        if self.head_written or self.closed:
            return
        self.head_written = True
        headers = [(b"content-type", b"text/html; charset=UTF-8"), (b"content-length", b"%d" % len(_ERROR_PAGE))]
        self.queue({"type": "websocket.http.response.start", "status": 500, "headers": headers}, with_future=False)
        self.queue({"type": "websocket.http.response.body", "body": _ERROR_PAGE, "more_body": False},
                   with_future=False)
        self.finished = True

    def send_failed(self):
        # A send refused after the close began: the message is lost, the disconnect still comes
        # through receive() (the protocol's loop ends the connection then).
        if not self.accepted:
            self.gone()

    def end(self):
        """The socket is closed: the pump stops once the outbox is empty."""
        self.ended = True
        self.gone()

    async def serve(self, app):
        message = await self.receive()
        if message["type"] != "websocket.connect":
            return
        delegate = app.start_request(self, self)
        try:
            started = _logged(delegate.headers_received, _start_line(self.scope, "GET"),
                              _request_headers(self.scope))
            if started is not None and started is not FAILED:
                try:
                    await started
                except Exception:
                    app_log.error("Uncaught exception", exc_info=True)
                    started = FAILED
            if started is FAILED or _logged(delegate.finish) is FAILED:
                self.refuse()
            await self.pump()
        finally:
            if self.accepted and not self.ended:
                self.end()
            _logged(app.on_close, self)


class _WebSocketProtocol(websocket.WebSocketProtocol):
    """tornado.websocket's protocol interface over the ASGI websocket scope: Kestrel does the
    framing, masking, close handshake and pings; this object turns the handler's calls into
    websocket.* messages and the client's into on_message()/on_close()."""

    def __init__(self, handler, connection):
        super().__init__(handler)
        self.connection = connection
        self._subprotocol = None

    @property
    def selected_subprotocol(self):
        return self._subprotocol

    @selected_subprotocol.setter
    def selected_subprotocol(self, value):
        self._subprotocol = value

    async def accept_connection(self, handler):
        connection = self.connection
        offered = list(connection.scope.get("subprotocols") or ())
        selected = handler.select_subprotocol(offered)
        if selected:
            assert selected in offered
            handler.set_header("Sec-WebSocket-Protocol", selected)
        self._subprotocol = selected or None
        # As WebSocketProtocol13._accept_connection: the 101 goes out through finish(), so the
        # handler's own headers (cookies) go with it and the access log has the request.
        handler.clear_header("Content-Type")
        handler.set_status(101)
        accepted = handler.finish()
        handler._detach_stream()
        try:
            await accepted
        except Exception:
            self.client_terminated = self.server_terminated = True
            connection.end()
            handler.on_ws_connection_close(1006, None)
            return
        try:
            opened = handler.open(*handler.open_args, **handler.open_kwargs)
            if opened is not None:
                await opened
        except Exception:
            handler.log_exception(*sys.exc_info())
            self._abort()
        await self._receive_frame_loop()

    async def _receive_frame_loop(self):
        connection = self.connection
        handler = self.handler
        code = 1006
        reason = None
        try:
            while True:
                message = await connection.receive()
                kind = message["type"]
                if kind == "websocket.disconnect":
                    code = message.get("code", 1005)
                    reason = message.get("reason") or None
                    break
                if kind != "websocket.receive" or self.client_terminated:
                    continue
                data = message.get("text")
                if data is None:
                    data = message.get("bytes") or b""
                try:
                    handled = handler.on_message(data)
                    if handled is not None:
                        await handled
                except Exception:
                    handler.log_exception(*sys.exc_info())
                    self._abort()
        finally:
            self.client_terminated = self.server_terminated = True
            connection.end()
            handler.on_ws_connection_close(code, reason)

    def write_message(self, message, binary=False):
        if binary:
            payload = {"type": "websocket.send", "bytes": message.encode("utf-8") if isinstance(message, str) else message}
        else:
            payload = {"type": "websocket.send",
                       "text": message if isinstance(message, str) else bytes(message).decode("utf-8")}
        return self.connection.queue(payload)

    def close(self, code=None, reason=None):
        if self.server_terminated:
            return
        self.server_terminated = True
        if code is None:
            # Tornado sends an empty close frame (the client reads 1005); ASGI's close always has a code.
            code = 1000
        self.connection.queue({"type": "websocket.close", "code": code, "reason": reason or ""}, with_future=False)

    def _abort(self):
        # Tornado drops the TCP connection; over ASGI the nearest is a close with 1011.
        if not self.server_terminated:
            self.close(1011)
        self.client_terminated = self.server_terminated = True

    def is_closing(self):
        return self.connection.closed or self.client_terminated or self.server_terminated

    def write_ping(self, data):
        """ASGI has no ping message: the server pings on its own schedule (--ws-ping-interval)."""

    def start_pinging(self):
        """The server pings (--ws-ping-interval); Tornado's websocket_ping_interval is not used."""

    def set_nodelay(self, x):
        """Kestrel's sockets are already no-delay."""

    def _process_server_headers(self, key, headers):
        raise NotImplementedError("client side only")


_tornado_protocol = websocket.WebSocketHandler.get_websocket_protocol


def _get_websocket_protocol(handler):
    """WebSocketHandler.get_websocket_protocol: on Narwhal's websocket scope, the ASGI protocol."""
    connection = handler.request.connection
    if isinstance(connection, _WebSocketConnection):
        if handler.request.headers.get("Sec-WebSocket-Version") not in ("7", "8", "13"):
            return None  # a 426, as Tornado answers
        return _WebSocketProtocol(handler, connection)
    return _tornado_protocol(handler)


websocket.WebSocketHandler.get_websocket_protocol = _get_websocket_protocol


class _WsgiDelegate(httputil.HTTPServerConnectionDelegate):
    """A WSGIContainer as HTTPServer serves a plain callable (httpserver._CallableAdapter)."""

    def __init__(self, container):
        self.container = container

    def start_request(self, server_conn, request_conn):
        return _WsgiRequest(self.container, request_conn)


class _WsgiRequest(httputil.HTTPMessageDelegate):
    def __init__(self, container, connection):
        self.container = container
        self.connection = connection
        self.request = None
        self.chunks = []

    def headers_received(self, start_line, headers):
        self.request = httputil.HTTPServerRequest(connection=self.connection, start_line=start_line,
                                                  headers=headers)

    def data_received(self, chunk):
        self.chunks.append(chunk)

    def finish(self):
        self.request.body = b"".join(self.chunks)
        self.request._parse_body()
        self.container(self.request)

    def on_connection_close(self):
        self.chunks = None
