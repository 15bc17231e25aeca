"""A real Flask app behind an application factory: `narwhal 'manage:create_app()'`."""

import json
import time

from flask import Flask, Response, jsonify, request, stream_with_context


def create_app(name="flaskproj", debug=False):
    app = Flask(name)
    app.config["NAME"] = name

    @app.get("/")
    def index():
        return "hello from %s" % app.config["NAME"]

    @app.post("/form")
    def form():
        return jsonify(name=request.form["name"], tags=request.form.getlist("tag"))

    @app.post("/json")
    def echo_json():
        return jsonify(got=request.get_json(), scheme=request.scheme, host=request.host)

    @app.post("/upload")
    def upload():
        f = request.files["file"]
        data = f.read()
        return jsonify(filename=f.filename, size=len(data), first=data[:8].decode("latin-1"))

    @app.get("/stream")
    def stream():
        def gen():
            for i in range(3):
                yield "chunk %d\n" % i
                time.sleep(0.05)
        return Response(stream_with_context(gen()), mimetype="text/plain")

    @app.get("/boom")
    def boom():
        raise KeyError("flask boom")

    return app
