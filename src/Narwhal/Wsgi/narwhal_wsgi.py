"""WSGI protocol glue, run inside the interpreter Narwhal embeds.

Kestrel owns the connection; this module owns PEP 3333's Python-side semantics
(start_response, exc_info, write(), iteration, close()) because those are cheapest
where the app's objects live. It talks to the server only through the native
functions Narwhal injects before use:

  _read(req, size) -> bytes          next body bytes (b'' at the end); blocks without the GIL
  _start(req, code, reason, headers) sets the status line and headers (sent with the first body bytes)
  _write(req, data, flush)           appends body bytes; flush=True pushes them to the client now
  _respond(req, code, reason, headers, data)  the whole response in one call (one-chunk bodies)
  _sendfile(req, fd, offset, count)  copies a file range to the client without Python in the loop
  _log(level, text)                  writes to the error log (level -1: raw text)
"""

import os
import re
import sys
import traceback

_read = _start = _write = _respond = _sendfile = _log = None

ERROR, RAW = 40, -1
EXCEPTION = 41  # an error with its traceback (Gunicorn's log.exception)

# handle() results, read by the server.
DONE, ABORT, FAIL = 0, 1, 2


class ClientDisconnected(OSError):
    """The client went away while the response was being sent."""


# ---------------------------------------------------------------- wsgi.input

class InputStream:
    """wsgi.input: read(n), read(), readline(n), readlines(hint) and iteration over a
    body that is streamed from the socket on demand, never held whole in memory."""

    __slots__ = ("_req", "_buf", "_eof")

    CHUNK = 65536

    def __init__(self, req):
        self._req = req
        self._buf = b""
        self._eof = False

    def _more(self, size):
        if self._eof:
            return b""
        data = _read(self._req, size)
        if not data:
            self._eof = True
        return data

    def read(self, size=-1):
        if size is None or size < 0:
            parts = [self._buf]
            while True:
                data = self._more(self.CHUNK)
                if not data:
                    break
                parts.append(data)
            self._buf = b""
            return b"".join(parts)
        if len(self._buf) >= size:
            data, self._buf = self._buf[:size], self._buf[size:]
            return data
        parts = [self._buf]
        have = len(self._buf)
        while have < size:
            data = self._more(max(size - have, 8192))
            if not data:
                break
            parts.append(data)
            have += len(data)
        data = b"".join(parts)
        self._buf = data[size:]
        return data[:size]

    def readline(self, size=-1):
        if size is None:
            size = -1
        while True:
            nl = self._buf.find(b"\n")
            if nl >= 0 and (size < 0 or nl < size):
                line, self._buf = self._buf[:nl + 1], self._buf[nl + 1:]
                return line
            if 0 <= size <= len(self._buf):
                line, self._buf = self._buf[:size], self._buf[size:]
                return line
            data = self._more(self.CHUNK)
            if not data:
                line, self._buf = self._buf, b""
                return line
            self._buf += data

    def readlines(self, hint=-1):
        lines, total = [], 0
        for line in self:
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
                break
        return lines

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line


# ---------------------------------------------------------------- wsgi.errors

class ErrorStream:
    """wsgi.errors: text written here goes to the error log as it is."""

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError("wsgi.errors.write() argument must be str, not %s" % type(text).__name__)
        if text:
            _log(RAW, text)
        return len(text)

    def writelines(self, seq):
        for text in seq:
            self.write(text)

    def flush(self):
        pass


# ---------------------------------------------------------------- file_wrapper

class FileWrapper:
    """wsgi.file_wrapper. A real file is sent by the server without Python in the loop;
    anything else is iterated in blksize blocks."""

    def __init__(self, filelike, blksize=8192):
        self.filelike = filelike
        self.blksize = blksize
        if hasattr(filelike, "close"):
            self.close = filelike.close

    def __iter__(self):
        return self

    def __next__(self):
        data = self.filelike.read(self.blksize)
        if data:
            return data
        raise StopIteration

    def __getitem__(self, key):  # the PEP's pre-iterator protocol
        data = self.filelike.read(self.blksize)
        if data:
            return data
        raise IndexError


# ---------------------------------------------------------------- start_response

# RFC 9110 token; matches Gunicorn's header-name check.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
# CR, LF, NUL and other controls except HTAB: response splitting.
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_STATUS = re.compile(r"([0-9]{3})(?: (.*))?\Z", re.S)
# Hop-by-hop headers belong to the server (PEP 3333); Gunicorn drops them too.
_HOP = frozenset(("connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                  "te", "trailers", "transfer-encoding", "upgrade"))


class Response:
    __slots__ = ("req", "status", "code", "reason", "headers", "sent", "nbytes")

    def __init__(self, req):
        self.req = req
        self.status = None
        self.sent = False
        self.nbytes = 0

    def start_response(self, status, headers, exc_info=None):
        if exc_info:
            try:
                if self.sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise AssertionError("Response headers already set!")

        if not isinstance(status, str):
            raise TypeError("%r is not a string" % (status,))
        m = _STATUS.match(status)
        if m is None or _BAD_VALUE.search(status):
            raise ValueError("Invalid HTTP status line: %r" % (status,))
        if not isinstance(headers, list):
            raise TypeError("headers must be a list, not %s" % type(headers).__name__)
        out = []
        for item in headers:
            if not isinstance(item, tuple) or len(item) != 2:
                raise TypeError("header %r is not a (name, value) tuple" % (item,))
            name, value = item
            if not isinstance(name, str) or not _TOKEN.match(name):
                raise ValueError("Invalid header name %r" % (name,))
            if not isinstance(value, str):
                raise TypeError("header %r value %r is not a string" % (name, value))
            if _BAD_VALUE.search(value):
                raise ValueError("Invalid header value %r for %r" % (value, name))
            lname = name.lower()
            if lname in _HOP:
                # "Connection: close" from the app is honoured; the rest is the server's.
                if lname == "connection" and value.strip().lower() == "close":
                    out.append(("Connection", "close"))
                continue
            out.append((name, value.strip()))
        self.status = status
        self.code = int(m.group(1))
        self.reason = m.group(2) or ""
        self.headers = out
        return self.write

    def _need_status(self):
        if self.status is None:
            raise AssertionError("The application did not call start_response() before sending body data")

    def write(self, data, _flush=True):
        """The write() callable start_response returns, also used for each chunk."""
        self._need_status()
        if type(data) is not bytes:
            if isinstance(data, (bytearray, memoryview)):
                data = bytes(data)
            else:
                raise TypeError("%r is not a byte string" % (data,))
        if not data:
            return  # headers go out with the first non-empty chunk
        if not self.sent:
            self.sent = True
            _start(self.req, self.code, self.reason, self.headers)
        self.nbytes += len(data)
        _write(self.req, data, _flush)

    def finish(self):
        self._need_status()
        if not self.sent:
            self.sent = True
            _start(self.req, self.code, self.reason, self.headers)


def _try_sendfile(resp, wrapper):
    """Sends a FileWrapper over a real file through the server; False if it is not one."""
    filelike = wrapper.filelike
    try:
        fileno = filelike.fileno()
        offset = filelike.tell()
        size = os.fstat(fileno).st_size
    except (AttributeError, OSError, ValueError):
        return False
    if not hasattr(filelike, "seek") or offset > size:
        return False
    resp._need_status()
    count = size - offset
    resp.sent = True
    _start(resp.req, resp.code, resp.reason, resp.headers)
    sent = _sendfile(resp.req, fileno, offset, count)
    resp.nbytes += sent
    filelike.seek(offset + sent)
    return True


SENDFILE = True  # --no-sendfile turns the file_wrapper fast path off

# What ends a request without an error in the log: the client leaving (and, for the green
# workers, a greenlet killed at the end of the graceful timeout).
QUIET = (ClientDisconnected,)


def handle(app, environ, req, observe=None):
    """Runs one request through the app. Returns DONE, ABORT (close the connection
    without more bytes) or FAIL (nothing sent yet: the server answers 500).
    observe, a list, receives the Response (for hooks and Python access loggers)."""
    resp = Response(req)
    if observe is not None:
        observe.append(resp)
    result = None
    try:
        result = app(environ, resp.start_response)
        try:
            kind = type(result)
            if (kind is list or kind is tuple) and len(result) == 1 and resp.status is not None \
                    and not resp.sent and type(result[0]) is bytes:
                # One-chunk body: one native call, Content-Length set by the server
                # when the app gave none (PEP 3333 allows it for a one-element iterable).
                resp.sent = True
                resp.nbytes = len(result[0])
                _respond(req, resp.code, resp.reason, resp.headers, result[0])
            elif kind is FileWrapper and SENDFILE and resp.status is not None and not resp.sent \
                    and _try_sendfile(resp, result):
                pass
            else:
                # Lists are already in memory: let the server batch them. Anything
                # else streams, each chunk delivered as it is yielded.
                flush = not (kind is list or kind is tuple)
                write = resp.write
                for data in result:
                    write(data, flush)
                resp.finish()
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return DONE
    except QUIET:
        return ABORT
    except BaseException:
        _log(EXCEPTION, "Error handling request %s\n%s" % (
            environ.get("RAW_URI", environ.get("PATH_INFO", "")), traceback.format_exc().rstrip("\n")))
        return ABORT if resp.sent else FAIL


_SERVER_ERROR = "500 Internal Server Error"


def handler():
    """handle, or a wrapper around it when pre_request/post_request hooks or a Python
    access logger are configured: requests pay for them only when they exist."""
    config = sys.modules.get("narwhal_config")
    if config is None:
        return handle
    pre, post, access = config.request_hooks()
    if pre is None and post is None and access is None:
        return handle
    before, after = config.before_request, config.after_request

    def handle_hooked(app, environ, req):
        request, started = before(pre, environ)
        observed = []
        outcome = handle(app, environ, req, observed)
        resp = observed[0]
        if outcome == FAIL or resp.status is None:
            status, headers, sent = _SERVER_ERROR, [("Content-Type", "text/html")], 0
        else:
            status, headers, sent = resp.status, resp.headers, resp.nbytes
        after(post, access, request, environ, status, headers, sent, started)
        return outcome

    return handle_hooked


def environ_values(environ, keys):
    """[(key, str(value))] of the environ entries whose lowercased key is in keys ({key}e atoms)."""
    return [(k.lower(), str(v)) for k, v in environ.items() if k.lower() in keys]
