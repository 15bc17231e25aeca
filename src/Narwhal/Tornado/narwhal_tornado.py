"""Narwhal's tornado worker: a Tornado application served on the asgi worker's event loop.

asgi_app(app) returns the ASGI callable that serves app (a tornado.web.Application, any
HTTPServerConnectionDelegate, or a WSGI callable through tornado.wsgi.WSGIContainer).
"""


def asgi_app(app):
    raise TypeError("the tornado worker is not built yet")
