"""A Quart app (0.18): routes, JSON, a WebSocket, before_serving (lifespan)."""

from quart import Quart, jsonify, request, websocket

from markers import mark

app = Quart(__name__)


@app.before_serving
async def startup():
    mark("quart-startup", "yes")


@app.after_serving
async def shutdown():
    mark("quart-shutdown", "yes")


@app.route("/")
async def index():
    return "hello from quart"


@app.route("/json", methods=["POST"])
async def echo_json():
    data = await request.get_json()
    return jsonify(got=data, method=request.method, path=request.path)


@app.websocket("/ws")
async def ws():
    while True:
        message = await websocket.receive()
        await websocket.send("quart: %s" % message)
