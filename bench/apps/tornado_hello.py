"""Tornado hello for the tornado rows: `app` for Narwhal -k tornado, `gunicorn_app` for Gunicorn
20.1 -k tornado, and Tornado's own HTTPServer on 2 forked processes when run as a script
(`python3 tornado_hello.py PORT PROCESSES`)."""

import sys

import tornado.web
from tornado.httputil import HTTPServerConnectionDelegate
from tornado.wsgi import WSGIContainer


class Hello(tornado.web.RequestHandler):
    def get(self):
        self.write("Hello, world!\n")


app = tornado.web.Application([(r"/", Hello)])


class _Gunicorn201(WSGIContainer, HTTPServerConnectionDelegate):
    """Gunicorn 20.1's TornadoWorker wraps whatever is not a WSGIContainer in one, so a Tornado 6
    Application fails every request (TypeError in Application.__call__; fixed in Gunicorn 21,
    commit df82cac7). Being a WSGIContainer passes that check, and being a delegate makes
    Tornado's HTTPServer route to the Application, as Gunicorn 21+ does it."""

    def __init__(self, application):
        self.application = application

    def start_request(self, server_conn, request_conn):
        return self.application.start_request(server_conn, request_conn)


gunicorn_app = _Gunicorn201(app)


if __name__ == "__main__":
    import tornado.httpserver
    import tornado.ioloop
    import tornado.netutil
    import tornado.process
    port, processes = int(sys.argv[1]), int(sys.argv[2])
    sockets = tornado.netutil.bind_sockets(port, "127.0.0.1")
    tornado.process.fork_processes(processes)
    server = tornado.httpserver.HTTPServer(app)
    server.add_sockets(sockets)
    tornado.ioloop.IOLoop.current().start()
