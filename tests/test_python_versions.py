"""Every CPython 3.9 to 3.13 (pyenv's builds, where the machine has them) and Debian's 3.11:
the C-API layer embeds each, serves the WSGI basics, and Flask where Flask is importable.
Versions that are not installed are skipped with the reason (a clean Debian has no pyenv)."""


import pytest
import requests

from conftest import APPS, read_response
from pythons import PYENV_MINORS, ask, require

INTERPRETERS = list(PYENV_MINORS) + ["debian"]


@pytest.fixture(params=INTERPRETERS, ids=lambda n: "pyenv-" + n if n != "debian" else "debian-python3")
def python(request):
    path = require(request.param)
    if ask(path, "import sysconfig; print(sysconfig.get_config_var('Py_ENABLE_SHARED') or 0)") != "1":
        pytest.skip("%s was built without a shared libpython (--enable-shared)" % path)
    return path


def test_wsgi_basics(serve, python):
    expected = ask(python, "import sys; print('%d.%d.%d' % sys.version_info[:3])")
    server = serve("versions_app:app", "--threads", "2", python=python)

    info = requests.get(server.url("/python")).json()
    assert "%d.%d.%d" % tuple(info["version"]) == expected, server.log
    assert info["gil_disabled"] is False

    r = requests.get(server.url("/environ?a=1&b=%20"), headers={"X-Custom": "v", "Content-Type": "text/x"})
    env = r.json()
    assert r.status_code == 200, server.log
    assert env["REQUEST_METHOD"] == "GET" and env["PATH_INFO"] == "/environ"
    assert env["QUERY_STRING"] == "a=1&b=%20" and env["RAW_URI"] == "/environ?a=1&b=%20"
    assert env["HTTP_X_CUSTOM"] == "v" and env["CONTENT_TYPE"] == "text/x"
    assert env["wsgi.version"] == [1, 0] and env["wsgi.multithread"] is True
    assert env["SERVER_PORT"] == str(server.port)

    body = b"name=narwhal&data=" + bytes(range(256)) * 40
    r = requests.post(server.url("/read-all"), data=body)
    assert r.json() == {"len": len(body), "body": body.decode("latin-1")}

    r = requests.post(server.url("/read-all"), data=iter([b"hello ", b"chunked ", b"world"]))
    assert r.json() == {"len": 19, "body": "hello chunked world"}

    with requests.get(server.url("/chunks"), stream=True) as r:
        assert r.headers["Transfer-Encoding"] == "chunked"
        assert b"".join(r.iter_content(chunk_size=None)) == b"chunk 0;chunk 1;chunk 2;"

    with server.connect() as s:
        s.sendall(b"GET /write HTTP/1.1\r\nHost: x\r\n\r\nGET /late HTTP/1.1\r\nHost: x\r\n\r\n")
        f = s.makefile("rb")
        assert read_response(f)[4] == b"via write(), then the iterable"
        assert read_response(f)[4] == b"late start"

    r = requests.get(server.url("/raise"))
    assert r.status_code == 500
    assert "Error handling request /raise" in server.log
    assert "Traceback" in server.log and "RuntimeError: boom before headers" in server.log
    # The worker that raised still serves: no second boot.
    assert requests.get(server.url("/python")).status_code == 200
    assert server.log.count("Booting worker with pid") == 1


def test_flask(serve, python):
    if ask(python, "import importlib.util; print(bool(importlib.util.find_spec('flask')))") != "True":
        pytest.skip("Flask is not importable by %s" % python)
    server = serve("manage:create_app(name='versions')", "--chdir", str(APPS / "flaskproj"), python=python)
    assert requests.get(server.url("/")).text == "hello from versions"
    r = requests.post(server.url("/json"), json={"k": [1, 2]})
    assert r.json()["got"] == {"k": [1, 2]}
    r = requests.post(server.url("/form"), data={"name": "narwhal", "tag": ["a", "b"]})
    assert r.json() == {"name": "narwhal", "tags": ["a", "b"]}
