"""Narwhal's gevent and eventlet workers, the hub side.

Runs on the worker's main thread, the one that started Python and monkey-patched it first
thing. Kestrel, in C#, hands requests over as WSGI environs through one queue and an eventfd
the hub watches; each wake-up takes a batch of events in one native call. Each request runs
in a greenlet of its own through narwhal_wsgi.handle (PEP 3333's Python side, the same as the
threaded worker's), whose I/O functions are rebound here: a body read or a flush that cannot
finish at once parks the request's greenlet until its event comes, never the hub.

Functions set by the server (C#) before serve() runs:

  _drain()                       the events waiting: a list of tuples (see Server.wake)
  _receive(id)                   (bytes, more_body) now; None: a BODY event follows;
                                 False: the body failed or the client left
  _write(id, data, flush)        True when done; False: a FLUSHED event follows
  _sendfile(id, fd, offset, n)   a FILE_SENT event follows, with the bytes sent (-1: failed)
  _atoms(id, [(key, value)])     the environ entries the access log reads, after the app ran
  _complete(id, outcome)         the app is done with the request
  _ready()                       the worker may accept
  _called(token)                 a CALL event's function has run
  _stopped()                     the hub takes no more events
  _log(level, text)              writes to the error log (41: an exception)

and on narwhal_wsgi, _start and _respond, which only append to the response.

No native function is on the stack when a greenlet switches: the natives return first, and
the switching happens here. (A switch with .NET frames on the stack would move them away
from where .NET's garbage collector walks them.)
"""

import collections
import sys
import time
import traceback

import narwhal_wsgi
from narwhal_wsgi import ABORT, ClientDisconnected, DONE, EXCEPTION, FAIL

_drain = _receive = _write = _sendfile = _atoms = _complete = _ready = _called = _stopped = _log = None

REQUEST, BODY, FLUSHED, GONE, ACCEPTED, MESSAGE, CLOSED, STOP, CALL, FILE_SENT = range(10)


# ---------------------------------------------------------------- the two hubs

class Gevent:
    """gevent's hub: a libev (or libuv) io watcher on the eventfd, raw greenlets, Waiters."""

    name = "gevent"

    def __init__(self):
        import gevent
        import gevent.hub
        from gevent.monkey import get_original
        self.hub = gevent.get_hub()
        self.spawn = gevent.spawn_raw
        self.kill = gevent.kill
        self.sleep = gevent.sleep
        self.Exit = gevent.GreenletExit
        hub = self.hub
        waiter = gevent.hub.Waiter
        self.waiter = lambda: waiter(hub)
        self.thread_ident = get_original("_thread", "get_ident")()
        self.watcher = None

    def watch(self, fd, callback):
        self.watcher = self.hub.loop.io(fd, 1)
        self.watcher.start(callback)

    def unwatch(self):
        self.watcher.stop()
        self.watcher.close()


class EventletWaiter:
    """gevent's Waiter for eventlet: get() parks the current green thread; switch(value),
    from the hub, resumes it on the hub's next turn with value."""

    __slots__ = ("hub", "greenlet")

    def __init__(self, hub):
        self.hub = hub
        self.greenlet = None

    def get(self):
        import greenlet
        self.greenlet = greenlet.getcurrent()
        return self.hub.switch()

    def switch(self, value):
        self.hub.schedule_call_global(0, self.greenlet.switch, value)


class Eventlet:
    """eventlet's hub: a READ listener on the eventfd, spawn_n green threads."""

    name = "eventlet"

    def __init__(self):
        import eventlet
        import eventlet.greenthread
        import eventlet.hubs
        import greenlet
        from eventlet.patcher import original
        self.hub = eventlet.hubs.get_hub()
        self.spawn = eventlet.greenthread.spawn_n
        self.kill = eventlet.greenthread.kill
        self.sleep = eventlet.sleep
        self.Exit = greenlet.GreenletExit
        hub = self.hub
        self.waiter = lambda: EventletWaiter(hub)
        self.thread_ident = original("_thread").get_ident()
        self.listener = None

    def watch(self, fd, callback):
        self.listener = self.hub.add(self.hub.READ, fd, lambda _fd: callback(), _ignore, _ignore)

    def unwatch(self):
        self.hub.remove(self.listener)


def _ignore(*args):
    pass


# ---------------------------------------------------------------- the server

class Server:
    """The requests in flight, by id, and the greenlets parked on their I/O."""

    def __init__(self, green, app, concurrency, logged):
        self.green = green
        self.app = app
        self.handle = narwhal_wsgi.handler()
        self.limit = concurrency
        self.logged = logged or None
        self.running = {}                    # id -> greenlet
        self.queued = collections.deque()    # (id, environ) past --worker-connections
        self.readers = {}                    # id -> Waiter of a wsgi.input read
        self.flushers = {}                   # id -> Waiter of a flush
        self.senders = {}                    # id -> Waiter of a file sent
        self.main = None                     # the main greenlet's Waiter, woken by STOP

    def wake(self):
        """The hub's callback when the eventfd is readable: takes the events the server posted."""
        for event in _drain():
            kind = event[0]
            if kind == REQUEST:
                id = event[1]
                if self.limit and len(self.running) >= self.limit:
                    self.queued.append((id, event[2]))
                else:
                    self.running[id] = self.green.spawn(self.run, id, event[2])
            elif kind == BODY:
                waiter = self.readers.pop(event[1], None)
                if waiter is not None:
                    waiter.switch(None if event[2] is None else (event[2], event[3]))
            elif kind == FLUSHED:
                waiter = self.flushers.pop(event[1], None)
                if waiter is not None:
                    waiter.switch(event[2])
            elif kind == FILE_SENT:
                waiter = self.senders.pop(event[1], None)
                if waiter is not None:
                    waiter.switch(event[2])
            elif kind == GONE:
                # A parked read or flush fails now; a file being sent finishes on its own
                # (its thread still reads the file: the greenlet must not close it yet).
                waiter = self.readers.pop(event[1], None)
                if waiter is not None:
                    waiter.switch(False)
                waiter = self.flushers.pop(event[1], None)
                if waiter is not None:
                    waiter.switch(False)
            elif kind == CALL:
                self.green.spawn(run_call, event[1], event[2], event[3])
            elif kind == STOP:
                main, self.main = self.main, None
                if main is not None:
                    main.switch(None)

    def run(self, id, environ):
        outcome = FAIL
        try:
            outcome = self.handle(self.app, environ, id)
            if self.logged is not None:
                _atoms(id, narwhal_wsgi.environ_values(environ, self.logged))
        except self.green.Exit:
            outcome = ABORT
        except BaseException:
            _log(EXCEPTION, "Error handling request\n%s" % traceback.format_exc().rstrip("\n"))
        finally:
            self.running.pop(id, None)
            _complete(id, outcome)
            self.next()

    def next(self):
        if self.queued and (not self.limit or len(self.running) < self.limit):
            id, environ = self.queued.popleft()
            self.running[id] = self.green.spawn(self.run, id, environ)

    def park(self, table, id):
        waiter = self.green.waiter()
        table[id] = waiter
        try:
            return waiter.get()
        finally:
            if table.get(id) is waiter:
                del table[id]

    def stop(self):
        """After STOP: the server has let requests finish within the graceful timeout; kill what is left."""
        while self.queued:
            id, _ = self.queued.popleft()
            _complete(id, ABORT)
        deadline = time.monotonic() + 2
        for greenlet in list(self.running.values()):
            self.green.kill(greenlet)
        while self.running and time.monotonic() < deadline:
            self.green.sleep(0.02)
        # A greenlet killed before it first ran never reaches run()'s finally.
        for id in list(self.running):
            del self.running[id]
            _complete(id, ABORT)


_server = None


# narwhal_wsgi's I/O, rebound for the hub.

def _green_read(req, size):
    got = _receive(req)
    if got is None:
        got = _server.park(_server.readers, req)
    if not got:
        raise OSError("the request body could not be read: the client left or sent a malformed body")
    return got[0]


def _green_write(req, data, flush):
    if not _write(req, data, flush) and not _server.park(_server.flushers, req):
        raise ClientDisconnected("client disconnected")


def _green_sendfile(req, fd, offset, count):
    _sendfile(req, fd, offset, count)
    sent = _server.park(_server.senders, req)
    if sent < 0:
        raise ClientDisconnected("client disconnected")
    return sent


def run_call(token, fn, args):
    """A CALL event: fn(*args) for another thread (a hook, a log line), which waits for _called(token)."""
    try:
        fn(*args)
    except BaseException:
        _log(EXCEPTION, "Exception in a call for the server\n%s" % traceback.format_exc().rstrip("\n"))
    finally:
        _called(token)


_loop_thread = None


def loop_stack():
    """The hub thread's stack (the greenlet running when the hub stopped ticking), read from another thread."""
    frame = sys._current_frames().get(_loop_thread)
    return "".join(traceback.format_stack(frame)).rstrip("\n") if frame is not None else "(no stack)"


def serve(app, library, fd, concurrency, logged):
    """Runs the hub until the server posts STOP; returns the worker's exit code."""
    global _server, _loop_thread
    green = Gevent() if library == "gevent" else Eventlet()
    _loop_thread = green.thread_ident
    server = _server = Server(green, app, concurrency, logged)
    narwhal_wsgi._read = _green_read
    narwhal_wsgi._write = _green_write
    narwhal_wsgi._sendfile = _green_sendfile
    # A request killed at the end of the graceful timeout is not an app error.
    narwhal_wsgi.QUIET = (ClientDisconnected, green.Exit)
    server.main = green.waiter()
    green.watch(fd, server.wake)
    try:
        _ready()
        server.main.get()   # the hub runs the requests until STOP
        server.stop()
    finally:
        green.unwatch()
        _stopped()
    return 0
