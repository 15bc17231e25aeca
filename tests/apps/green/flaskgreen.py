"""A Flask app for the green workers' isolation test: each request keeps its own value in
flask.g and in a threading.local (green-local once patched) across a cooperative sleep."""

import threading
import time

import flask

app = flask.Flask(__name__)
local = threading.local()


@app.route("/echo")
def echo():
    value = flask.request.args["v"]
    flask.g.value = value
    local.value = value
    time.sleep(float(flask.request.args.get("s", "0.2")))
    return flask.jsonify(sent=value, g=flask.g.value, local=local.value,
                         arg=flask.request.args["v"], thread=threading.get_ident())
