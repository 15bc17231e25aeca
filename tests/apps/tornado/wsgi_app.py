"""A plain WSGI callable: -k tornado serves it through tornado.wsgi.WSGIContainer, as Gunicorn's TornadoWorker does."""


def application(environ, start_response):
    body = ("wsgi %s %s %s" % (environ["REQUEST_METHOD"], environ["PATH_INFO"],
                               environ["wsgi.input"].read().decode())).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
