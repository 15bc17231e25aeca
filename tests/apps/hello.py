def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"default application"]


def make(greeting, punctuation="!"):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [(greeting + punctuation).encode()]
    return app


not_callable = 42
