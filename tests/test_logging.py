"""Logs as Gunicorn writes them: the access log line for line, the error log's shape and
files, levels, captured output, USR1 reopening, syslog and statsd over real sockets."""

import base64
import json
import textwrap
import os
import re
import signal
import socket
import subprocess
import time

import pytest
import requests

from conftest import APPS, BINARY, DEBIAN_PYTHON, free_port, run_narwhal
from procs import wait_for, workers

ERROR_LINE = re.compile(r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\] \[\d+\] \[(DEBUG|INFO|WARNING|ERROR|CRITICAL)\] ")
TIME = re.compile(r"\[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]")


def wait_port(port, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("nothing listens on %d" % port)


def requests_for_comparison(port):
    """The same requests against either server; each exercises atoms of the default format."""
    base = "http://127.0.0.1:%d" % port
    auth = "Basic " + base64.b64encode(b"alice:secret").decode()
    s = requests.Session()
    s.get(base + "/")
    s.get(base + "/path/with%20space?q=1&r=two", headers={"User-Agent": 'agent "quoted"', "Referer": "http://ref.example/"})
    s.get(base + "/caf%C3%A9/%41?x#frag")  # U is PATH_INFO: percent-decoded to latin-1
    s.get(base + "/status/404", headers={"Authorization": auth})
    s.post(base + "/", data=b"x" * 100, headers={"User-Agent": "poster"})
    s.get(base + "/raise", headers={"User-Agent": "crasher"})
    s.head(base + "/")
    s.close()


def access_lines(path):
    lines = [l for l in path.read_text().splitlines() if l.strip()]
    return [TIME.sub("[TIME]", l) for l in lines]


FORMAT_NO_TIMES = ("%(h)s|%(l)s|%(u)s|%(r)s|%(m)s|%(U)s|%(q)s|%(H)s|%(s)s|%(B)s|%(b)s|%(f)s|%(a)s|"
                   "%({x-out}o)s|%({user-agent}i)s|%({app.mark}e)s|%({path_info}e)s|%({missing}i)s|%%")


@pytest.mark.parametrize("fmt", [None, FORMAT_NO_TIMES], ids=["default-format", "every-atom"])
def test_access_log_matches_gunicorn_line_for_line(tmp_path, fmt):
    logs = {}
    for name, cmd in (("gunicorn", ["/usr/bin/gunicorn"]), ("narwhal", [str(BINARY), "--python", DEBIAN_PYTHON])):
        port = free_port()
        log = tmp_path / ("%s-access.log" % name)
        args = cmd + ["-b", "127.0.0.1:%d" % port, "--access-logfile", str(log), "--chdir", str(APPS)]
        if fmt:
            args += ["--access-logformat", fmt]
        proc = subprocess.Popen(args + ["logapp:app"], cwd=APPS, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_port(port)
            requests_for_comparison(port)
            if fmt:
                requests.get("http://127.0.0.1:%d/mark" % port)
            time.sleep(0.5)
        finally:
            proc.terminate()
            proc.wait(30)
        logs[name] = access_lines(log)
    assert len(logs["narwhal"]) >= 6
    assert logs["narwhal"] == logs["gunicorn"]


def test_time_atoms_and_pid(serve, tmp_path):
    log = tmp_path / "access.log"
    server = serve("logapp:app", "--access-logfile", str(log),
                   "--access-logformat", "%(t)s T=%(T)s D=%(D)s M=%(M)s L=%(L)s p=%(p)s")
    requests.get(server.url("/"))
    assert wait_for(lambda: log.exists() and log.read_text().strip(), 5)
    line = log.read_text().strip()
    m = re.fullmatch(r"\[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] T=(\d+) D=(\d+) M=(\d+) L=(\d+\.\d{6}) p=<(\d+)>", line)
    assert m, line
    t, d, ms, l, pid = m.groups()
    assert int(t) == 0 and 0 < int(d) < 1_000_000 and int(ms) == int(d) // 1000 and float(l) * 1e6 == pytest.approx(int(d), abs=1)
    assert int(pid) != server.pid  # the worker's pid, as in Gunicorn


def test_access_log_to_stdout_and_none_by_default(serve):
    server = serve("logapp:app")
    requests.get(server.url("/"))
    time.sleep(0.3)
    assert '"GET / HTTP/1.1" 200' not in server.log
    server = serve("logapp:app", "--access-logfile", "-")
    requests.get(server.url("/quiet"))
    assert wait_for(lambda: '"GET /quiet HTTP/1.1" 200 5 "-"' in server.log, 5), server.log


def test_error_log_file_and_levels(serve, tmp_path):
    errors = tmp_path / "error.log"
    port = free_port()
    server = serve("logapp:app", "--error-logfile", str(errors), "--log-level", "debug", "-b", "127.0.0.1:%d" % port,
                   bind=False, ready=False)
    server.port = port
    wait_port(port)
    requests.get(server.url("/raise"))
    assert wait_for(lambda: "the app failed on purpose" in errors.read_text(), 5)
    text = errors.read_text()
    assert "Booting worker with pid" in text and "[DEBUG]" in text
    assert all(ERROR_LINE.match(l) for l in text.splitlines() if l.startswith("[")), text
    assert "Error handling request /raise" in text and "Traceback (most recent call last)" in text
    assert "Booting worker" not in server.log  # nothing on stderr

    quiet = serve("logapp:app", "--log-level", "warning", ready=False)
    wait_port(quiet.port)
    requests.get(quiet.url("/raise"))
    assert wait_for(lambda: "Error handling request" in quiet.log, 5)
    assert "[INFO]" not in quiet.log


def test_master_and_workers_append_to_one_error_log_file_without_overwriting(serve, tmp_path):
    # Each process has its own descriptor on the file: without O_APPEND, the master's next
    # line would land at its own offset, over the lines the workers wrote meanwhile.
    errors = tmp_path / "error.log"
    server = serve("hello:app", "-w", "2", "--error-logfile", str(errors), ready=False)
    first = wait_for(lambda: len(workers(server.pid)) == 2 and errors.read_text().count("Booting worker") == 2
                     and workers(server.pid), 30, "two workers booted")
    server.proc.send_signal(signal.SIGTTIN)
    wait_for(lambda: len(workers(server.pid)) == 3 and errors.read_text().count("Booting worker") == 3, 30,
             "the third worker")
    text = errors.read_text()
    for pid in first:
        assert "Booting worker with pid: %d" % pid in text, text
    assert "Handling signal: ttin" in text
    assert all(ERROR_LINE.match(l) for l in text.splitlines()), text


def test_capture_output_sends_print_to_the_error_log(serve, tmp_path):
    errors = tmp_path / "error.log"
    server = serve("logapp:app", "--error-logfile", str(errors), "--capture-output", ready=False)
    wait_port(server.port)
    requests.get(server.url("/print"))
    assert wait_for(lambda: "printed to stderr by the app" in errors.read_text(), 5)
    assert "printed to stdout by the app" in errors.read_text()


def test_usr1_reopens_log_files(serve, tmp_path):
    errors, access = tmp_path / "error.log", tmp_path / "access.log"
    server = serve("logapp:app", "--error-logfile", str(errors), "--access-logfile", str(access), ready=False)
    wait_port(server.port)
    requests.get(server.url("/before"))
    assert wait_for(lambda: "/before" in access.read_text(), 5)
    os.rename(errors, tmp_path / "error.log.1")
    os.rename(access, tmp_path / "access.log.1")
    os.kill(server.pid, signal.SIGUSR1)
    assert wait_for(lambda: errors.exists() and access.exists(), 5)
    time.sleep(0.5)
    requests.get(server.url("/after"))
    requests.get(server.url("/raise"))
    assert wait_for(lambda: "/after" in access.read_text(), 5)
    assert "/after" not in (tmp_path / "access.log.1").read_text()
    assert "Handling signal: usr1" in (tmp_path / "error.log.1").read_text()
    # The worker reopened its own descriptor too: its error lands in the new file.
    assert wait_for(lambda: "Error handling request /raise" in errors.read_text(), 5)


class Udp:
    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.packets = []

    def collect(self, until, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.packets.append(self.sock.recv(65536).decode("utf-8", "replace"))
            except socket.timeout:
                pass
            if until(self.packets):
                return self.packets
        raise AssertionError("not received; got %r" % self.packets[-20:])


def test_syslog_receives_error_and_access_lines(serve):
    udp = Udp()
    server = serve("logapp:app", "--log-syslog", "--log-syslog-to", "udp://127.0.0.1:%d" % udp.port,
                   "--log-syslog-prefix", "shop", "--log-syslog-facility", "local3")
    requests.get(server.url("/via-syslog"))
    got = udp.collect(lambda p: any("GET /via-syslog" in x for x in p) and any("Booting worker" in x for x in p))
    boot = next(x for x in got if "Booting worker" in x)
    # facility local3 (19) * 8 + info (6) = 158
    assert re.fullmatch(r"<158>gunicorn\.shop\.error: \[\d+\] Booting worker with pid: \d+\x00", boot), boot
    access = next(x for x in got if "GET /via-syslog" in x)
    assert access.startswith("<158>gunicorn.shop.access: [")


def test_statsd_metrics_with_dogstatsd_tags(serve):
    udp = Udp()
    server = serve("logapp:app", "--statsd-host", "127.0.0.1:%d" % udp.port, "--statsd-prefix", "shop",
                   "--dogstatsd-tags", "env:test,team:web")
    requests.get(server.url("/"))
    requests.get(server.url("/status/404"))
    requests.get(server.url("/raise"))
    got = udp.collect(lambda p: any("gunicorn.request.status.500" in x for x in p)
                      and any("gunicorn.workers" in x for x in p)
                      and any("gunicorn.log.exception" in x for x in p))
    assert "shop.gunicorn.requests:1|c|@1.0|#env:test,team:web" in got
    assert "shop.gunicorn.request.status.200:1|c|@1.0|#env:test,team:web" in got
    assert "shop.gunicorn.request.status.404:1|c|@1.0|#env:test,team:web" in got
    assert "shop.gunicorn.workers:1|g|#env:test,team:web" in got
    assert "shop.gunicorn.log.exception:1|c|@1.0|#env:test,team:web" in got
    durations = [x for x in got if x.startswith("shop.gunicorn.request.duration:")]
    assert durations and all(re.fullmatch(r"shop\.gunicorn\.request\.duration:\d+\.\d+\|ms\|#env:test,team:web", d) for d in durations)


DICT_CONFIG = '''
logconfig_dict = {
    "root": {"level": "INFO", "handlers": ["jsonout"]},
    "formatters": {"json": {"format": '{"logger": "%%(name)s", "level": "%%(levelname)s", "msg": "%%(message)s"}'}},
    "handlers": {"jsonout": {"class": "logging.FileHandler", "formatter": "json", "filename": %(out)r}},
    "loggers": {"gunicorn.error": {"level": "INFO", "handlers": ["jsonout"], "propagate": False},
                "gunicorn.access": {"level": "INFO", "handlers": ["jsonout"], "propagate": False}},
}
accesslog = "-"
'''


def test_logconfig_dict_from_the_config_file(serve, tmp_path):
    out = tmp_path / "json.log"
    (tmp_path / "gunicorn.conf.py").write_text(DICT_CONFIG % {"out": str(out)} + "pythonpath = %r\n" % str(APPS))
    server = serve("logapp:app", cwd=tmp_path, ready=False)
    wait_port(server.port)
    requests.get(server.url("/dict"))
    assert wait_for(lambda: out.exists() and "GET /dict" in out.read_text(), 5)
    lines = out.read_text().splitlines()
    assert any(l.startswith('{"logger": "gunicorn.error", "level": "INFO", "msg": "Booting worker with pid: ') for l in lines), lines
    assert any(l.startswith('{"logger": "gunicorn.access", "level": "INFO", "msg": "127.0.0.1 - - [') for l in lines), lines


def test_log_config_ini_and_json_files(serve, tmp_path):
    ini_out, json_out = tmp_path / "ini.log", tmp_path / "json.log"
    ini = tmp_path / "logging.ini"
    ini.write_text(textwrap.dedent("""
        [loggers]
        keys=root, gunicorn.error, gunicorn.access
        [handlers]
        keys=file
        [formatters]
        keys=plain
        [logger_root]
        level=INFO
        handlers=file
        [logger_gunicorn.error]
        level=INFO
        handlers=file
        propagate=0
        qualname=gunicorn.error
        [logger_gunicorn.access]
        level=INFO
        handlers=file
        propagate=0
        qualname=gunicorn.access
        [handler_file]
        class=FileHandler
        formatter=plain
        args=(%r,)
        [formatter_plain]
        format=INI %%(name)s %%(message)s
    """ % str(ini_out)))
    server = serve("logapp:app", "--log-config", str(ini), "--access-logfile", "-", ready=False)
    wait_port(server.port)
    requests.get(server.url("/ini"))
    assert wait_for(lambda: ini_out.exists() and "INI gunicorn.access 127.0.0.1" in ini_out.read_text(), 5)
    assert "INI gunicorn.error Booting worker" in ini_out.read_text()

    config = tmp_path / "logging.json"
    config.write_text(json.dumps({
        "version": 1,
        "root": {"level": "INFO", "handlers": ["f"]},
        "formatters": {"p": {"format": "JSON %(name)s %(message)s"}},
        "handlers": {"f": {"class": "logging.FileHandler", "formatter": "p", "filename": str(json_out)}},
        "loggers": {"gunicorn.error": {"level": "INFO", "handlers": ["f"], "propagate": False}},
    }))
    server = serve("logapp:app", "--log-config-json", str(config), ready=False)
    wait_port(server.port)
    assert wait_for(lambda: json_out.exists() and "JSON gunicorn.error Booting worker" in json_out.read_text(), 10)


def test_logger_class_subclass_of_gunicorns_logger_gets_the_calls(serve, tmp_path):
    (tmp_path / "mylogging.py").write_text(textwrap.dedent('''
        from gunicorn.glogging import Logger

        class TaggingLogger(Logger):
            def atoms(self, resp, req, environ, request_time):
                atoms = super().atoms(resp, req, environ, request_time)
                atoms["tag"] = "custom-atom"
                return atoms

            def info(self, msg, *args, **kwargs):
                super().info("[tagged] " + msg, *args, **kwargs)
    '''))
    server = serve("logapp:app", "--logger-class", "mylogging.TaggingLogger", "--pythonpath", str(tmp_path),
                   "--access-logfile", "-", "--access-logformat", "%(tag)s %(r)s %(s)s",
                   python=DEBIAN_PYTHON, ready=False)
    wait_port(server.port)
    requests.get(server.url("/sub"))
    requests.get(server.url("/raise"))
    assert wait_for(lambda: "custom-atom GET /sub HTTP/1.1 200" in server.log, 5), server.log
    assert "[tagged] Booting worker with pid" in server.log
    assert wait_for(lambda: "Error handling request /raise" in server.log, 5), server.log


def test_unknown_logger_class_is_a_clear_error():
    r = run_narwhal("--logger-class", "nosuch.Logger", "logapp:app")
    assert r.returncode == 1 and "No module named 'nosuch'" in r.stderr


def test_enable_stdio_inheritance_keeps_the_daemons_stderr(tmp_path):
    pidfile, err = tmp_path / "d.pid", tmp_path / "stderr.txt"
    port = free_port()
    with open(err, "wb") as stderr:
        r = subprocess.run([str(BINARY), "-D", "-R", "-p", str(pidfile), "-b", "127.0.0.1:%d" % port, "logapp:app"],
                           cwd=APPS, stdout=subprocess.DEVNULL, stderr=stderr, timeout=20)
    assert r.returncode == 0
    pid = int(wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), 10))
    try:
        assert wait_for(lambda: "Booting worker with pid" in err.read_text(), 20)
    finally:
        os.kill(pid, signal.SIGTERM)
    assert wait_for(lambda: not pidfile.exists(), 15)


def test_disable_redirect_access_to_syslog(serve):
    udp = Udp()
    server = serve("logapp:app", "--log-syslog", "--log-syslog-to", "udp://127.0.0.1:%d" % udp.port,
                   "--disable-redirect-access-to-syslog")
    requests.get(server.url("/not-in-syslog"))
    udp.collect(lambda p: any("Booting worker" in x for x in p))
    time.sleep(0.5)
    udp.collect(lambda p: True, timeout=0.5)
    assert not any("/not-in-syslog" in x for x in udp.packets)


def test_spew_traces_the_apps_lines(serve):
    server = serve("logapp:app", "--spew")
    requests.get(server.url("/"))
    assert wait_for(lambda: "logapp.py:8:     path = environ[\"PATH_INFO\"]" in server.log, 5), server.log[-2000:]
