"""Real ASGI apps from Debian's packages under `-k asgi` (issue 14): FastAPI 0.92 with
pydantic, Starlette 0.26, Django 3.2's get_asgi_application(), Quart 0.18."""

import pytest
import requests
import websockets

from asgi_target import asgi_serve, markers, read_marker, run  # noqa: F401
from conftest import APPS


def test_fastapi_json_validation_and_dependencies(asgi_serve, markers):
    """FastAPI: lifespan startup event ran; pydantic-validated body; 422 with details on bad
    input; typed path parameters (422 on a non-integer); a header dependency; a sync endpoint."""
    server = asgi_serve("fastapi_app:app")
    assert read_marker(markers, "fastapi-startup") == ["yes"]
    assert requests.get(server.url("/")).json() == {"message": "hello from fastapi"}
    r = requests.post(server.url("/items"), json={"name": "pen", "price": 2.5, "tags": ["x"]},
                      headers={"X-Tenant": "acme"})
    assert r.status_code == 200
    assert r.json() == {"item": {"name": "pen", "price": 2.5, "tags": ["x"]}, "tenant": "acme", "total": 3.0}
    r = requests.post(server.url("/items"), json={"name": "", "price": -1})
    assert r.status_code == 422
    assert {tuple(e["loc"]) for e in r.json()["detail"]} == {("body", "name"), ("body", "price")}
    assert requests.post(server.url("/items"), data=b"{not json", headers={"Content-Type": "application/json"}).status_code == 422
    assert requests.get(server.url("/items/7?q=blue")).json() == {"item_id": 7, "q": "blue"}
    assert requests.get(server.url("/items/seven")).status_code == 422
    assert requests.get(server.url("/nowhere")).status_code == 404


def test_starlette_streaming_and_websocket(asgi_serve):
    """Starlette: on_startup ran before the first request; request.url rebuilt from the scope;
    a StreamingResponse arrives chunked and whole; a WebSocket route."""
    server = asgi_serve("starlette_app:app")
    assert requests.get(server.url("/")).text == "hello from starlette, started=True"
    info = requests.post(server.url("/info?a=1"), data=b"12345").json()
    assert info == {"url": server.url("/info?a=1"), "client": "127.0.0.1", "length": 5, "query": {"a": "1"}}
    with requests.get(server.url("/numbers"), stream=True) as r:
        assert r.headers["transfer-encoding"] == "chunked"
        assert b"".join(r.iter_content(None)) == b"n=0\nn=1\nn=2\nn=3\n"

    async def go():
        async with websockets.connect(server.ws_url("/ws")) as c:
            await c.send("hi")
            return await c.recv()
    assert run(go()) == "starlette says hi"


@pytest.fixture
def django_server(asgi_serve):
    return asgi_serve("mysite.asgi:application", cwd=APPS / "djsite")


def test_django_asgi_project(django_server):
    """Django 3.2 get_asgi_application(): forms, JSON, multipart upload, a streaming response,
    404; the lifespan scope it refuses is skipped with one info line (--asgi-lifespan auto)."""
    s = django_server
    r = requests.get(s.url("/"))
    assert r.status_code == 200 and r.text.startswith("hello from django, csrf=")
    assert requests.post(s.url("/form/"), data={"name": "narwhal"}).json() == {"name": "narwhal", "path": "/form/", "script": ""}
    assert requests.post(s.url("/api/"), json={"x": 1}).json() == {"got": {"x": 1}, "method": "POST"}
    r = requests.post(s.url("/upload/"), files={"file": ("data.bin", b"z" * 300000)})
    assert r.json() == {"filename": "data.bin", "size": 300000}
    with requests.get(s.url("/stream/"), stream=True) as r:
        assert b"".join(r.iter_content(None)) == b"part 0\npart 1\npart 2\n"
    assert requests.get(s.url("/missing/")).status_code == 404
    lifespan_lines = [l for l in s.log.splitlines() if "lifespan" in l.lower()]
    assert len(lifespan_lines) == 1 and "[INFO]" in lifespan_lines[0], s.log


def test_django_under_root_path(asgi_serve):
    """--root-path reaches Django as SCRIPT_NAME; the client's path keeps its prefix."""
    server = asgi_serve("mysite.asgi:application", "--root-path", "/app", cwd=APPS / "djsite")
    r = requests.post(server.url("/app/form/"), data={"name": "x"})
    assert r.json() == {"name": "x", "path": "/app/form/", "script": "/app"}


def test_quart_routes_json_websocket_and_lifespan(asgi_serve, markers):
    """Quart: before_serving (lifespan startup) ran, JSON round trip, a WebSocket; after_serving
    at stop."""
    server = asgi_serve("quart_app:app")
    assert read_marker(markers, "quart-startup") == ["yes"]
    assert requests.get(server.url("/")).text == "hello from quart"
    r = requests.post(server.url("/json"), json={"k": [1, 2]})
    assert r.json() == {"got": {"k": [1, 2]}, "method": "POST", "path": "/json"}

    async def go():
        async with websockets.connect(server.ws_url("/ws")) as c:
            await c.send("ping")
            return await c.recv()
    assert run(go()) == "quart: ping"
    assert server.stop() == 0
    assert read_marker(markers, "quart-shutdown") == ["yes"]
