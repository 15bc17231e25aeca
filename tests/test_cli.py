"""The command line: app specs as Gunicorn reads them, binds, flags, exit codes."""

import concurrent.futures
import os
import re
import signal
import socket
import subprocess
import threading
import time

import pytest
import requests

from conftest import APPS, ROOT, free_port, run_narwhal
from procs import wait_for, workers


@pytest.mark.parametrize("spec, body", [
    ("hello:app", "hello"),
    ("hello", "default application"),
    ("pkg.sub.wsgi", "dotted package"),
    ("pkg.sub.wsgi:application", "dotted package"),
    ("hello:make('hi')", "hi!"),
    ("hello:make('hi', punctuation='?')", "hi?"),
])
def test_app_specs_as_gunicorn(serve, spec, body):
    server = serve(spec)
    assert requests.get(server.url("/")).text == body


@pytest.mark.parametrize("spec, message", [
    ("nosuchmodule:app", "Failed to import module 'nosuchmodule': No module named 'nosuchmodule'."),
    ("hello:nope", "Failed to find attribute 'nope' in 'hello'."),
    ("hello:not_callable", "Application object must be callable."),
    ("hello:make(greeting)", "Failed to parse arguments as literal values: 'make(greeting)'"),
    ("hello:app(", "Failed to parse 'app(' as an attribute name or function call."),
    ("hello:make()", "make() missing 1 required positional argument: 'greeting'"),
])
def test_bad_app_spec_is_one_clear_line_and_exit_code_4(spec, message):
    r = run_narwhal(spec)
    assert r.returncode == 4, r.stderr
    errors = [l for l in r.stderr.splitlines() if "[ERROR]" in l]
    assert len(errors) == 1 and errors[0].endswith(message), r.stderr
    assert "Traceback" not in r.stderr and "   at " not in r.stderr


def test_import_error_inside_the_app_keeps_its_traceback():
    r = run_narwhal("broken_import:app")
    assert r.returncode == 4
    assert "Traceback" in r.stderr and "a_dependency_that_is_not_installed" in r.stderr


def test_usage_errors_exit_2_and_name_the_setting():
    r = run_narwhal("--threds", "2", "hello:app")
    assert r.returncode == 2 and "did you mean --threads?" in r.stderr
    r = run_narwhal("--threads", "zero", "hello:app")
    assert r.returncode == 2 and "--threads" in r.stderr and "'zero' is not a positive integer" in r.stderr
    r = run_narwhal("-b", "host:notaport", "hello:app")
    assert r.returncode == 2 and "allowed: HOST, HOST:PORT, [IPv6]:PORT, unix:PATH, fd://FD" in r.stderr
    r = run_narwhal()
    assert r.returncode == 2 and "No application module specified" in r.stderr


def test_a_long_option_may_be_shortened_to_a_prefix_only_it_has(serve):
    # argparse's allow_abbrev, on in Gunicorn: `--thread 2 --bi ADDR` is `--threads 2 --bind ADDR`.
    port = free_port()
    server = serve("barrier:app", "--thread", "2", "--bi", "127.0.0.1:%d" % port, bind=False)
    assert "Using worker: narwhal (2 threads)" in server.log
    url = "http://127.0.0.1:%d/" % port
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        bodies = list(pool.map(lambda _: requests.get(url, timeout=30).text, range(2)))
    assert bodies == ["together", "together"]  # both requests in the app at once: two threads


@pytest.mark.parametrize("args, values", [
    (["--threa=3", "--keep", "7", "--time=9"], {"threads": "3", "keepalive": "7", "timeout": "9"}),
    # An exact name wins over the longer names it is a prefix of (--log-syslog-to, ...).
    (["--log-syslog", "--worker-co", "50"], {"syslog": "True", "worker_connections": "50"}),
])
def test_prefixes_from_the_command_line_and_the_environment(args, values):
    for env, argv in (({}, args), ({"GUNICORN_CMD_ARGS": " ".join(args)}, []),
                      ({"NARWHAL_CMD_ARGS": " ".join(args)}, [])):
        r = run_narwhal(*argv, "--print-conf", "hello:app", env=env)
        assert r.returncode == 0, (env, r.stderr)
        printed = dict(map(str.strip, line.split(" = ", 1)) for line in r.stdout.splitlines() if " = " in line)
        assert {k: printed[k] for k in values} == values, env
    r = run_narwhal("--vers")
    assert r.returncode == 0 and r.stdout.startswith("narwhal (version ")


AMBIGUOUS = re.compile(r"(\w+): error: ambiguous option: (\S+) could match (.*)")

# Flags of settings Gunicorn 20.1 does not have, that an abbreviation may also match.
NARWHAL_ONLY_FLAGS = {"--ws-max-size", "--ws-ping-interval", "--ws-ping-timeout", "--max-worker-rss",
                      "--asgi-loop", "--asgi-lifespan", "--asgi-disconnect-grace-period"}


@pytest.mark.parametrize("args", [["--worker=3"], ["--w", "3"], ["--max-req", "5"]])
def test_an_ambiguous_prefix_is_refused_as_gunicorn_refuses_it(tmp_path, args):
    r = run_narwhal(*args, "hello:app")
    g = subprocess.run(["/usr/bin/gunicorn", *args, "hello:app"], cwd=tmp_path, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == g.returncode == 2
    assert r.stderr.splitlines()[0] == g.stderr.splitlines()[0].replace("gunicorn", "narwhal")
    ours, theirs = AMBIGUOUS.search(r.stderr), AMBIGUOUS.search(g.stderr)
    assert ours and theirs, (r.stderr, g.stderr)
    assert ours.group(1, 2) == ("narwhal", args[0]) and theirs.group(1, 2) == ("gunicorn", args[0])
    # Gunicorn's candidates, plus the flags Narwhal adds that share the prefix (Debian's
    # Gunicorn 20.1 has none of them).
    added = {f for f in NARWHAL_ONLY_FLAGS if f.startswith(args[0].split("=")[0])}
    assert set(ours.group(3).split(", ")) == set(theirs.group(3).split(", ")) | added


def test_help_and_version():
    r = run_narwhal("--help")
    assert r.returncode == 0
    for flag in ("--bind", "--threads", "--keep-alive", "--chdir", "--pythonpath", "--env", "--python"):
        assert flag in r.stdout
    r = run_narwhal("--version")
    assert r.returncode == 0 and r.stdout.startswith("narwhal (version ")


def test_bind_unix_socket(serve, tmp_path):
    path = tmp_path / "narwhal.sock"
    server = serve("hello:app", "-b", "unix:%s" % path, bind=False)
    s = socket.socket(socket.AF_UNIX)
    s.connect(str(path))
    s.sendall(b"GET / HTTP/1.1\r\nHost: example.org:81\r\nConnection: close\r\n\r\n")
    data = b""
    while chunk := s.recv(4096):
        data += chunk
    assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"hello")


def test_bind_ipv6_and_several_binds(serve):
    p1, p2 = free_port(), free_port()
    server = serve("hello:app", "-b", "[::1]:%d" % p1, "-b", "127.0.0.1:%d" % p2, bind=False)
    assert requests.get("http://[::1]:%d/" % p1).text == "hello"
    assert requests.get("http://127.0.0.1:%d/" % p2).text == "hello"
    assert "Listening at: http://[::1]:%d" % p1 in server.log


def test_bind_inherited_fd(serve):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    port = sock.getsockname()[1]
    server = serve("hello:app", "-b", "fd://%d" % sock.fileno(), bind=False, pass_fds=(sock.fileno(),))
    assert requests.get("http://127.0.0.1:%d/" % port).text == "hello"
    sock.close()


def test_port_environment_variable_sets_the_default_bind(serve):
    port = free_port()
    server = serve("hello:app", bind=False, env={"PORT": str(port)})
    assert "Listening at: http://0.0.0.0:%d" % port in server.log
    assert requests.get("http://127.0.0.1:%d/" % port).text == "hello"


def test_env_chdir_and_pythonpath(serve, tmp_path):
    libdir = tmp_path / "lib"
    libdir.mkdir()
    (libdir / "greeting.py").write_text("import os\nTEXT = os.environ['GREETING']\n")
    appdir = tmp_path / "proj"
    appdir.mkdir()
    (appdir / "envapp.py").write_text(
        "import os, greeting\n"
        "def app(e, sr):\n    sr('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [(greeting.TEXT + '|' + os.getcwd()).encode()]\n")
    server = serve("envapp:app", "-e", "GREETING=hi there", "--chdir", str(appdir),
                   "--pythonpath", str(libdir), cwd="/")
    assert requests.get(server.url("/")).text == "hi there|%s" % appdir


def test_relative_chdir_and_config_file_mean_the_same_to_every_worker(serve, tmp_path):
    # The workers parse the master's argv again: they start where the master was launched, so a
    # relative --chdir and -c name what they named to the master (they failed with exit 2 once
    # the master had changed directory first).
    appdir = tmp_path / "proj"
    appdir.mkdir()
    (appdir / "here.py").write_text(
        "import os\n"
        "def app(e, sr):\n    sr('200 OK', [])\n    return [os.getcwd().encode()]\n")
    (tmp_path / "conf.py").write_text("workers = 2\nthreads = 2\n")
    server = serve("here:app", "--chdir", "proj", "-c", "conf.py", "--access-logfile", "access.log", cwd=tmp_path)
    wait_for(lambda: len(workers(server.pid)) == 2, 30, "2 workers")
    answers = {requests.get(server.url("/"), headers={"Connection": "close"}).text for _ in range(20)}
    assert answers == {str(appdir)}
    assert "Worker (pid" not in server.log
    wait_for(lambda: (appdir / "access.log").exists() and len((appdir / "access.log").read_text().splitlines()) >= 20,
             10, "the access lines under --chdir")


def test_launcher_works_from_another_directory(tmp_path):
    (tmp_path / "here.py").write_text(
        "def app(e, sr):\n    sr('200 OK', [])\n    return [b'from cwd']\n")
    port = free_port()
    proc = subprocess.Popen([str(ROOT / "narwhal"), "-b", "127.0.0.1:%d" % port, "here:app"],
                            cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stderr:
            if "Booting worker" in line:
                break
        assert requests.get("http://127.0.0.1:%d/" % port).text == "from cwd"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def test_term_lets_an_in_flight_request_finish_and_exits_0(serve, tmp_path):
    (tmp_path / "slow.py").write_text(
        "import time\n"
        "def app(e, sr):\n    time.sleep(1.0)\n    sr('200 OK', [])\n    return [b'finished']\n")
    server = serve("slow:app", cwd=tmp_path)
    result = {}
    t = threading.Thread(target=lambda: result.update(r=requests.get(server.url("/"))))
    t.start()
    time.sleep(0.3)
    server.proc.send_signal(signal.SIGTERM)
    t.join(10)
    assert result["r"].status_code == 200 and result["r"].text == "finished"
    assert server.proc.wait(10) == 0


def test_a_bind_in_use_is_retried_then_refused_and_the_first_server_keeps_every_connection(serve):
    """Gunicorn's create_sockets: five tries a second apart, then exit 1. .NET's ReuseAddress
    also sets SO_REUSEPORT on Linux: with it a second server bound the same port and took
    part of the first one's connections."""
    first = serve("hello:app", "-w", "2")
    second = subprocess.Popen([str(ROOT / "narwhal"), "-b", "127.0.0.1:%d" % first.port, "hello:app"], cwd=APPS,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(1.5)  # the second one is retrying now, or serving if it could bind
        answered = [requests.get(first.url("/"), headers={"Connection": "close"}).text for _ in range(40)]
        out, _ = second.communicate(timeout=20)
    finally:
        if second.poll() is None:
            second.kill()
    assert answered == ["hello"] * 40
    assert second.returncode == 1, out
    assert out.count("[ERROR] Connection in use: ('127.0.0.1', %d)" % first.port) == 5, out
    assert out.count("[ERROR] Retrying in 1 second.") == 5, out
    assert "Can't connect to 127.0.0.1:%d" % first.port in out, out
