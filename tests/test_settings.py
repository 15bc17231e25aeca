"""Settings: one registry against Gunicorn's list; config file, GUNICORN_CMD_ARGS and the
command line in Gunicorn's order; --print-config, --check-config; errors that name the
setting. Each setting read from a file is checked for its effect, not only its parse."""

import json
import os
import signal
import subprocess
import textwrap
from pathlib import Path

import pytest
import requests

from conftest import APPS, BINARY, DEBIAN_PYTHON, ROOT, free_port, run_narwhal
from procs import workers, wait_for

GOLDEN = json.loads((Path(__file__).parent / "golden" / "gunicorn_settings.json").read_text())

# Settings Narwhal adds to Gunicorn's.
NARWHAL_ONLY = {"python", "metrics_bind", "header_timeout", "body_min_rate", "body_buffer_size", "kestrel_log_level",
                "max_worker_rss", "access_log_json", "access_log_json_fields",
                # the asgi worker's WebSocket limits, uvicorn's flags (src/Narwhal/Settings/AsgiSettings.cs)
                "ws_max_size", "ws_ping_interval", "ws_ping_timeout"}

# Defaults that differ from Gunicorn's on purpose (or depend on the machine), with the reason.
DELIBERATE_DEFAULTS = {
    "chdir": "the working directory where it runs",
    "user": "the effective uid where it runs",
    "group": "the effective gid where it runs",
    "sendfile": "None in Gunicorn means 'on unless $SENDFILE says no'; Narwhal stores that answer",
    "pythonpath": "an empty list instead of None: the same meaning",
    "default_proc_name": "'gunicorn' in Gunicorn is replaced by the app module at start-up; Narwhal shows that",
    "ssl_version": "Gunicorn shows the ssl module's enum; the setting is deprecated and ignored by both",
}


def registry():
    out = subprocess.run([str(BINARY), "--settings-json"], capture_output=True, text=True, check=True).stdout
    return {s["name"]: s for s in json.loads(out)}


def test_registry_matches_gunicorns_settings_list():
    ours = registry()
    theirs = {s["name"]: s for s in GOLDEN["settings"]}
    assert set(theirs) - set(ours) == set(), "Gunicorn settings missing from the registry"
    assert set(ours) - set(theirs) == NARWHAL_ONLY, "settings that are neither Gunicorn's nor documented extras"
    for name, g in theirs.items():
        o = ours[name]
        # Settings added after 23.0 are known from release notes: check what those state.
        checked = g.get("verified", ["name", "cli", "section", "default"])
        if "cli" in checked:
            assert o["cli"] == g["cli"], name
        if "section" in checked:
            assert o["section"] == g["section"], name
        if "default" in checked and name not in DELIBERATE_DEFAULTS:
            assert o["default"] == g["default"], name


def test_docs_settings_md_is_generated_from_the_registry():
    generated = subprocess.run([str(BINARY), "--settings-markdown"], capture_output=True, text=True, check=True).stdout
    assert (ROOT / "docs" / "settings.md").read_text() == generated, \
        "docs/settings.md is stale: run `.build/bin/narwhal --settings-markdown > docs/settings.md`"
    for name in registry():
        assert "### `%s`" % name in generated


def test_help_lists_every_flag_with_its_default():
    out = run_narwhal("--help").stdout
    for s in registry().values():
        for flag in s["cli"]:
            assert flag in out, flag
    assert "--access-logformat" in out and "[info]" in out


def print_config(*args, cwd=APPS, env=None):
    r = run_narwhal("--print-config", *args, cwd=cwd, env=env)
    assert r.returncode == 0, r.stderr
    values = {}
    for line in r.stdout.splitlines():
        name, _, value = line.partition(" = ")
        values[name.strip()] = value
    return values


def write(path, text):
    path.write_text(textwrap.dedent(text))
    return path


def test_print_config_shows_defaults_as_gunicorn_prints_them():
    v = print_config("hello:app")
    assert v["bind"] == "['127.0.0.1:8000']"
    assert v["workers"] == "1"
    assert v["accesslog"] == "None"
    assert v["access_log_format"] == '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'
    assert v["on_starting"] == "<on_starting()>"
    assert v["wsgi_app"] == "hello:app"
    assert list(v) == sorted(v)


def test_precedence_file_then_env_then_command_line(tmp_path):
    write(tmp_path / "gunicorn.conf.py", """
        workers = 3
        timeout = 11
        keepalive = 7
        bind = ["127.0.0.1:9001", "127.0.0.1:9002"]
        loglevel = "warning"
        wsgi_app = "hello:app"
        not_a_setting = "ignored, as Gunicorn ignores it"
    """)
    env = {"GUNICORN_CMD_ARGS": "--timeout 22 --keep-alive=8 --log-level 'error'", "NARWHAL_CMD_ARGS": "--keep-alive 9"}
    v = print_config("--timeout", "33", "--pythonpath", str(APPS), cwd=tmp_path, env=env)
    assert v["workers"] == "3"          # file
    assert v["timeout"] == "33"         # command line beats env beats file
    assert v["keepalive"] == "9"        # NARWHAL_CMD_ARGS after GUNICORN_CMD_ARGS
    assert v["loglevel"] == "error"     # env beats file
    assert v["bind"] == "['127.0.0.1:9001', '127.0.0.1:9002']"
    assert v["wsgi_app"] == "hello:app"
    assert v["config"] == "./gunicorn.conf.py"
    # -b on the command line replaces the file's list, it does not add to it.
    v = print_config("-b", "127.0.0.1:9009", "--pythonpath", str(APPS), cwd=tmp_path)
    assert v["bind"] == "['127.0.0.1:9009']"


def test_explicit_config_replaces_the_default_file(tmp_path):
    write(tmp_path / "gunicorn.conf.py", "workers = 3\n")
    write(tmp_path / "other.py", "threads = 5\n")
    v = print_config("-c", "other.py", "hello:app", "--pythonpath", str(APPS), cwd=tmp_path)
    assert v["threads"] == "5" and v["workers"] == "1"
    v = print_config("hello:app", "--pythonpath", str(APPS), cwd=tmp_path,
                     env={"GUNICORN_CMD_ARGS": "-c file:other.py"})
    assert v["threads"] == "5" and v["workers"] == "1"


def test_config_from_a_python_module(tmp_path):
    pkg = tmp_path / "deploy"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    write(pkg / "server_conf.py", "workers = 4\nmax_requests = 50\n")
    v = print_config("-c", "python:deploy.server_conf", "hello:app", "--pythonpath", str(APPS), cwd=tmp_path)
    assert v["workers"] == "4" and v["max_requests"] == "50"


def test_config_file_values_of_every_type(tmp_path):
    write(tmp_path / "gunicorn.conf.py", """
        raw_env = ["A=1", "B=two"]
        reload_extra_files = ("x.txt",)
        preload_app = True
        umask = 0o22
        secure_scheme_headers = {'X-FORWARDED-PROTOCOL': 'ssl', 'X-FORWARDED-PROTO': 'https', 'X-FORWARDED-SSL': 'on'}
        logconfig_dict = {"version": 1, "root": {"level": "INFO"}}
        pythonpath = "%s,b"
        proc_name = None
    """ % APPS)
    v = print_config("hello:app", cwd=tmp_path)
    assert v["raw_env"] == "['A=1', 'B=two']"
    assert v["reload_extra_files"] == "['x.txt']"
    assert v["preload_app"] == "True"
    assert v["umask"] == "18"
    assert v["pythonpath"] == "['%s', 'b']" % APPS
    assert v["proc_name"] == "None"


@pytest.mark.parametrize("text, expected", [
    ("workers = 'many'\n", "Invalid value for workers: 'many' is not a positive integer"),
    ("loglevel = 'loud'\n", "Invalid value for loglevel: 'loud' is not allowed (allowed: debug, info, warning, error, critical)"),
    ("preload_app = 'maybe'\n", "Invalid value for preload_app: 'maybe' is not a boolean"),
    ("def on_starting():\n    pass\n", "Invalid value for on_starting: it must take 1 argument, not 0"),
    ("post_fork = 'os.nonexistent'\n", "Invalid value for post_fork: can not load 'nonexistent' from 'os'"),
    ("python = '/usr/bin/python3'\n", "Invalid value for python"),
])
def test_bad_config_values_name_the_setting_and_exit_1(tmp_path, text, expected):
    write(tmp_path / "gunicorn.conf.py", text)
    r = run_narwhal("hello:app", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    assert expected in r.stderr, r.stderr


def test_config_file_syntax_error_shows_the_python_traceback(tmp_path):
    write(tmp_path / "gunicorn.conf.py", "workers = 2\nbind = [\n")
    r = run_narwhal("hello:app", cwd=tmp_path)
    assert r.returncode == 1
    assert "Failed to read config file: ./gunicorn.conf.py" in r.stderr
    assert "SyntaxError" in r.stderr and "gunicorn.conf.py\", line 2" in r.stderr


def test_missing_explicit_config_file_is_an_error(tmp_path):
    r = run_narwhal("-c", "nope.py", "hello:app", cwd=tmp_path)
    assert r.returncode == 1 and "nope.py" in r.stderr and "doesn't exist" in r.stderr


@pytest.mark.parametrize("args, expected", [
    (["-k", "gaiohttp"], "worker_class = gaiohttp: Narwhal serves WSGI apps with its threaded worker"),
    (["--certfile", "x.pem"], "certfile = x.pem: 'x.pem' does not exist"),
    (["--paste", "development.ini"], "paste = development.ini: Narwhal does not load PasteDeploy"),
    (["--permit-unconventional-http-version"], "permit_unconventional_http_version = True: Kestrel, which parses HTTP for Narwhal, speaks HTTP/1.0 and 1.1 only"),
    (["--dirty-app", "ml:Model"], "dirty_apps = ['ml:Model']: Narwhal has no dirty arbiters"),
])
def test_settings_narwhal_cannot_honour_are_refused_with_the_reason(args, expected):
    r = run_narwhal(*args, "hello:app")
    assert r.returncode == 1, r.stderr
    assert expected in r.stderr


def test_proxy_protocol_takes_an_optional_mode_as_argparse_does():
    assert print_config("hello:app")["proxy_protocol"] == "off"
    assert print_config("--proxy-protocol", "hello:app")["proxy_protocol"] == "auto"  # bare flag
    assert print_config("--proxy-protocol", "v1", "hello:app")["proxy_protocol"] == "v1"
    assert print_config("--proxy-protocol=v2", "hello:app")["proxy_protocol"] == "v2"
    r = run_narwhal("--proxy-protocol=v3", "hello:app")
    assert r.returncode == 2 and "--proxy-protocol" in r.stderr and "v3" in r.stderr


def test_served_worker_classes_are_accepted():
    for k in ("sync", "gthread", "gunicorn.workers.gthread.ThreadWorker"):
        assert print_config("-k", k, "hello:app")["worker_class"] == k


def test_usage_errors_exit_2_and_suggest_the_flag():
    r = run_narwhal("--access-logfle", "-", "hello:app")
    assert r.returncode == 2 and "did you mean --access-logfile?" in r.stderr
    r = run_narwhal("--http2-max-frame-size", "100", "hello:app")
    assert r.returncode == 2 and "'100' is out of range (allowed: 16384 to 16777215)" in r.stderr
    r = run_narwhal("hello:app", env={"GUNICORN_CMD_ARGS": "--workers three"})
    assert r.returncode == 2 and "GUNICORN_CMD_ARGS" in r.stderr and "'three' is not a positive integer" in r.stderr


def test_check_config_loads_the_app(tmp_path):
    r = run_narwhal("--check-config", "hello:app")
    assert r.returncode == 0, r.stderr
    r = run_narwhal("--check-config", "hello:nope")
    assert r.returncode == 1 and "Failed to find attribute 'nope' in 'hello'." in r.stderr
    r = run_narwhal("--check-config", "broken_import:app")
    assert r.returncode == 1 and "Traceback" in r.stderr


def test_wsgi_app_and_bind_from_the_file_take_effect(tmp_path, serve):
    port = free_port()
    write(tmp_path / "gunicorn.conf.py", """
        wsgi_app = "logapp:app"
        bind = "127.0.0.1:%d"
        workers = 2
        raw_env = ["GREETING_FROM_CONFIG=yes"]
        pythonpath = %r
    """ % (port, str(APPS)))
    server = serve(None, cwd=tmp_path, bind=False)
    server.port = port
    server.wait_ready()
    assert requests.get(server.url("/")).text == "hello"
    assert wait_for(lambda: len(workers(server.pid)) == 2, 15)
    env = requests.get(server.url("/env/GREETING_FROM_CONFIG")).text
    assert env == "yes"


def test_hup_rereads_the_config_file(tmp_path, serve):
    conf = write(tmp_path / "gunicorn.conf.py", "workers = 1\npythonpath = %r\n" % str(APPS))
    server = serve("hello:app", cwd=tmp_path)
    assert wait_for(lambda: len(workers(server.pid)) == 1, 15)
    conf.write_text("workers = 3\npythonpath = %r\n" % str(APPS))
    os.kill(server.pid, signal.SIGHUP)
    assert wait_for(lambda: len(workers(server.pid)) == 3, 20), server.log


def test_interpreter_for_the_config_file_comes_from_the_command_line(tmp_path):
    write(tmp_path / "gunicorn.conf.py", "import sys\nproc_name = sys.executable\n")
    v = print_config("--python", DEBIAN_PYTHON, "hello:app", "--pythonpath", str(APPS), cwd=tmp_path)
    assert v["proc_name"].startswith("/usr/bin/python3")


def test_workers_run_the_configuration_their_master_read_until_hup(tmp_path, serve):
    conf = write(tmp_path / "gunicorn.conf.py", "raw_env = ['EDITION=first']\npythonpath = %r\n" % str(APPS))
    server = serve("logapp:app", cwd=tmp_path)
    assert requests.get(server.url("/env/EDITION")).text == "first"
    assert requests.get(server.url("/env/NARWHAL_CONFIG_SOURCE")).text == "<unset>"
    # Edited without HUP: a worker that replaces a dead one still runs what the master read,
    # as a forked Gunicorn worker would.
    conf.write_text("raw_env = ['EDITION=second']\npythonpath = %r\n" % str(APPS))
    old = workers(server.pid)
    os.kill(old[0], signal.SIGKILL)
    assert wait_for(lambda: workers(server.pid) and workers(server.pid) != old, 15)
    assert wait_for(lambda: requests.get(server.url("/env/EDITION")).text == "first", 10)
    os.kill(server.pid, signal.SIGHUP)
    assert wait_for(lambda: requests.get(server.url("/env/EDITION")).text == "second", 20)
