"""A Starlette app (0.26): a StreamingResponse, a WebSocket route, lifespan through
on_startup, request.url from the scope."""

import asyncio

from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Route, WebSocketRoute

started = []


async def startup():
    started.append(True)


async def home(request):
    return PlainTextResponse("hello from starlette, started=%s" % bool(started))


async def info(request):
    body = await request.body()
    return JSONResponse({"url": str(request.url), "client": request.client.host, "length": len(body),
                         "query": dict(request.query_params)})


async def numbers(request):
    async def produce():
        for i in range(4):
            yield "n=%d\n" % i
            await asyncio.sleep(0.05)
    return StreamingResponse(produce(), media_type="text/plain")


async def echo(websocket):
    await websocket.accept()
    async for text in websocket.iter_text():
        await websocket.send_text("starlette says " + text)


app = Starlette(routes=[Route("/", home), Route("/info", info, methods=["GET", "POST"]),
                        Route("/numbers", numbers), WebSocketRoute("/ws", echo)],
                on_startup=[startup])
