"""A Tornado 6 application with a handler for each behaviour tests/test_tornado.py checks."""

import asyncio
import json
import os

import tornado.web
import tornado.websocket

# What the disconnect test reads: on_connection_close() writes a line here.
EVENTS = os.environ.get("TORNADO_EVENTS", "")


def record(line):
    if EVENTS:
        with open(EVENTS, "a") as f:
            f.write(line + "\n")


class Hello(tornado.web.RequestHandler):
    def get(self):
        self.write("Hello, world!\n")

    head = get  # Tornado answers HEAD only where a handler defines head()


class Args(tornado.web.RequestHandler):
    def get(self, name):
        self.write({"name": name, "q": self.get_query_arguments("q"), "remote_ip": self.request.remote_ip,
                    "protocol": self.request.protocol, "host": self.request.host,
                    "version": self.request.version, "uri": self.request.uri})


class Echo(tornado.web.RequestHandler):
    def post(self):
        self.set_header("Content-Type", "application/octet-stream")
        self.set_header("X-Body-Length", str(len(self.request.body)))
        self.write(self.request.body)

    def put(self):
        self.write({"form": {k: self.get_body_argument(k) for k in self.request.body_arguments}})


@tornado.web.stream_request_body
class Streamed(tornado.web.RequestHandler):
    def prepare(self):
        self.chunks = 0
        self.size = 0

    async def data_received(self, chunk):
        self.chunks += 1
        self.size += len(chunk)
        await asyncio.sleep(0)  # a flow-control future the connection awaits

    def put(self):
        self.write({"chunks": self.chunks, "size": self.size})


@tornado.web.stream_request_body
class Limited(tornado.web.RequestHandler):
    """A body limit set in prepare(), as Tornado's docs show: a larger body is refused."""

    def prepare(self):
        self.request.connection.set_max_body_size(1000)
        self.size = 0

    def data_received(self, chunk):
        self.size += len(chunk)

    def post(self):
        self.write("got %d" % self.size)


class Flushing(tornado.web.RequestHandler):
    async def get(self):
        for i in range(3):
            self.write("chunk %d\n" % i)
            await self.flush()
            await asyncio.sleep(0.5)
        self.finish("done\n")


class Cookies(tornado.web.RequestHandler):
    def get(self):
        self.set_cookie("flavour", "oatmeal")
        self.set_cookie("session", "s1", httponly=True)
        self.set_header("X-Seen", self.get_cookie("seen", "none"))
        self.write("cookies")


class Boom(tornado.web.RequestHandler):
    def get(self):
        raise ZeroDivisionError("tornado handler failed on purpose")


class Sleepy(tornado.web.RequestHandler):
    async def get(self):
        await asyncio.sleep(float(self.get_argument("s", "0.3")))
        self.write("slept\n")


class Leaver(tornado.web.RequestHandler):
    """Streams until the client leaves; on_connection_close() records it."""

    async def get(self):
        self.gone = False
        for i in range(100):
            if self.gone:
                break
            self.write("tick %d\n" % i)
            try:
                await self.flush()
            except tornado.iostream.StreamClosedError:
                record("write failed")
                break
            await asyncio.sleep(0.1)

    def on_connection_close(self):
        self.gone = True
        record("on_connection_close")


class NoContent(tornado.web.RequestHandler):
    def get(self):
        self.set_status(204)


class WsEcho(tornado.websocket.WebSocketHandler):
    def select_subprotocol(self, subprotocols):
        return "chat.v1" if "chat.v1" in subprotocols else None

    async def open(self):
        await asyncio.sleep(0)
        self.write_message("welcome %s" % (self.selected_subprotocol or "-"))

    async def on_message(self, message):
        if message == "close":
            self.close(4001, "asked")
            return
        await asyncio.sleep(0.01)  # messages are handled in order, each awaited
        await self.write_message(message, binary=isinstance(message, bytes))

    def on_close(self):
        record("ws closed %s %s" % (self.close_code, self.close_reason))


class WsFaulty(tornado.websocket.WebSocketHandler):
    def on_message(self, message):
        raise KeyError("websocket handler failed on purpose")

    def on_close(self):
        record("faulty closed")


class WsStrict(tornado.websocket.WebSocketHandler):
    """Tornado's default check_origin: a foreign Origin is refused with a 403."""

    def on_message(self, message):
        self.write_message(message)


def make_app():
    return tornado.web.Application([
        (r"/", Hello),
        (r"/args/(\w+)", Args),
        (r"/echo", Echo),
        (r"/stream", Streamed),
        (r"/flush", Flushing),
        (r"/cookies", Cookies),
        (r"/boom", Boom),
        (r"/sleep", Sleepy),
        (r"/leave", Leaver),
        (r"/nocontent", NoContent),
        (r"/ws", WsEcho),
        (r"/ws-strict", WsStrict),
        (r"/ws-faulty", WsFaulty),
        (r"/limited", Limited),
    ])


application = make_app()
