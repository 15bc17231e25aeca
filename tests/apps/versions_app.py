"""wsgi_features' PEP 3333 apps, plus what the version tests need to know about the embedded
interpreter (/python) and a short stream (/chunks)."""

import json
import sys
import sysconfig
import time

import wsgi_features


def python_app(environ, start_response):
    doc = {"version": list(sys.version_info[:3]), "prefix": sys.prefix, "executable": sys.executable,
           "gil_disabled": bool(sysconfig.get_config_var("Py_GIL_DISABLED"))}
    body = json.dumps(doc).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def chunks_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])

    def body():
        for i in range(3):
            yield b"chunk %d;" % i
            time.sleep(0.05)
    return body()


def app(environ, start_response):
    if environ["PATH_INFO"] == "/python":
        return python_app(environ, start_response)
    if environ["PATH_INFO"] == "/chunks":
        return chunks_app(environ, start_response)
    return wsgi_features.app(environ, start_response)
