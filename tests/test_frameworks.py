"""Real Flask and Django apps from Debian's packages, served unmodified."""

import time

import pytest
import requests

from conftest import APPS, DEBIAN_PYTHON


@pytest.fixture
def flask_server(serve):
    return serve("manage:create_app(name='factory-arg')", "--chdir", str(APPS / "flaskproj"),
                 python=DEBIAN_PYTHON, cwd="/")


def test_flask_factory_with_literal_arguments(flask_server):
    assert requests.get(flask_server.url("/")).text == "hello from factory-arg"


def test_flask_form_json_and_upload(flask_server):
    r = requests.post(flask_server.url("/form"), data={"name": "narwhal", "tag": ["a", "b"]})
    assert r.json() == {"name": "narwhal", "tags": ["a", "b"]}
    r = requests.post(flask_server.url("/json"), json={"k": [1, 2]})
    assert r.json() == {"got": {"k": [1, 2]}, "scheme": "http", "host": "127.0.0.1:%d" % flask_server.port}
    payload = b"\x89PNG" + bytes(range(256)) * 4000
    r = requests.post(flask_server.url("/upload"), files={"file": ("pic.png", payload)})
    assert r.json() == {"filename": "pic.png", "size": len(payload), "first": payload[:8].decode("latin-1")}


def test_flask_streaming_and_errors(flask_server):
    with requests.get(flask_server.url("/stream"), stream=True) as r:
        assert b"".join(r.iter_content(None)) == b"chunk 0\nchunk 1\nchunk 2\n"
    r = requests.get(flask_server.url("/boom"))
    assert r.status_code == 500
    # Flask handles its own errors; the traceback lands in the error log through wsgi.errors/logging.
    assert "KeyError: 'flask boom'" in flask_server.log
    assert requests.get(flask_server.url("/")).status_code == 200


@pytest.fixture
def django_server(serve):
    return serve("mysite.wsgi:application", cwd=APPS / "djsite", python=DEBIAN_PYTHON)


def test_django_project(django_server):
    r = requests.get(django_server.url("/"))
    assert r.status_code == 200 and r.text.startswith("hello from django, csrf=")
    r = requests.post(django_server.url("/form/"), data={"name": "narwhal"})
    assert r.json() == {"name": "narwhal", "path": "/form/", "script": ""}
    r = requests.post(django_server.url("/api/"), json={"x": 1})
    assert r.json() == {"got": {"x": 1}, "method": "POST"}
    r = requests.post(django_server.url("/upload/"), files={"file": ("data.bin", b"z" * 300000)})
    assert r.json() == {"filename": "data.bin", "size": 300000}
    with requests.get(django_server.url("/stream/"), stream=True) as r:
        assert b"".join(r.iter_content(None)) == b"part 0\npart 1\npart 2\n"
    assert requests.get(django_server.url("/missing/")).status_code == 404


def test_django_under_a_script_name_prefix(serve):
    server = serve("mysite.wsgi:application", cwd=APPS / "djsite", python=DEBIAN_PYTHON,
                   env={"SCRIPT_NAME": "/app"})
    r = requests.post(server.url("/app/form/"), data={"name": "x"})
    assert r.json() == {"name": "x", "path": "/app/form/", "script": "/app"}
