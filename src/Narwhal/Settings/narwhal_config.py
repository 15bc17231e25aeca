"""Config files and server hooks, run inside the interpreter Narwhal embeds.

The config file is Python, evaluated as Gunicorn evaluates it: module globals named like
settings are settings, other globals are ignored, hooks are callables. The server reads
the values back through load() and calls hooks through master_hook() and worker_hook().
Native function injected before use:

  _log(level, text)    writes to the error log (41: an exception, ERROR level)
"""

import datetime
import importlib
import importlib.machinery
import importlib.util
import inspect
import json
import os
import sys
import traceback

_log = None

DEBUG, INFO, WARNING, ERROR, CRITICAL, EXCEPTION = 10, 20, 30, 40, 50, 41

_hooks = {}       # hook name -> callable, from the config file or a dotted path
_objects = {}     # setting name -> the Python object the file gave (classes, dicts)
_cfg = None
_server = None
_worker = None
_logger = None    # a Python logger object (--logger-class, --log-config...), when one owns the logs


class ConfigError(Exception):
    """A config file or value that cannot be used; the message names the setting."""


# ---------------------------------------------------------------- loading

def _exec_file(location, source):
    if location.startswith("python:"):
        return vars(importlib.import_module(location[len("python:"):]))
    if location.startswith("file:"):
        location = location[len("file:"):]
    name = "__config__"
    if source is not None:
        # The exact text the master evaluated: a worker runs the same configuration even
        # if the file was edited since (Gunicorn's workers inherit it by fork).
        module = type(sys)(name)
        module.__file__ = location
        sys.modules[name] = module
        exec(compile(source, location, "exec"), vars(module))
        return vars(module)
    if not os.path.exists(location):
        raise ConfigError("%r doesn't exist" % location)
    loader = importlib.machinery.SourceFileLoader(name, location)
    spec = importlib.util.spec_from_file_location(name, location, loader=loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return vars(module)


def _arity(fn):
    params = inspect.signature(fn).parameters.values()
    return len([p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)])


def _resolve_callable(name, value, arity):
    if isinstance(value, str):
        module, _, attr = value.rpartition(".")
        if not module:
            raise ConfigError("Invalid value for %s: %r is not an import string "
                              "(module[.submodules...].object)" % (name, value))
        try:
            value = getattr(importlib.import_module(module), attr)
        except ImportError as e:
            raise ConfigError("Invalid value for %s: %s" % (name, e))
        except AttributeError:
            raise ConfigError("Invalid value for %s: can not load %r from %r" % (name, attr, module))
    if not callable(value):
        raise ConfigError("Invalid value for %s: %r is not callable" % (name, value))
    n = _arity(value)
    if name == "post_request":
        if n not in (2, 3, 4):
            raise ConfigError("Invalid value for post_request: it must take 2 to 4 arguments, not %d" % n)
    elif n != arity:
        raise ConfigError("Invalid value for %s: it must take %d argument%s, not %d"
                          % (name, arity, "" if arity == 1 else "s", n))
    return value


def _describe(value):
    """(kind, text) for the server: how it reads a Python value into a setting."""
    if value is None:
        return "none", ""
    if isinstance(value, bool):
        return "bool", "true" if value else "false"
    if isinstance(value, int):
        return "int", str(value)
    if isinstance(value, str):
        return "str", value
    if isinstance(value, (list, tuple, set, frozenset)):
        return "list", json.dumps([str(v) for v in value])
    if isinstance(value, dict):
        return "dict", json.dumps(value, default=repr)
    if callable(value):
        return "callable", "%s.%s" % (getattr(value, "__module__", "?"), getattr(value, "__qualname__", repr(value)))
    return "str", str(value)


def load(location, known, hooks, source=None):
    """Evaluates the config file; returns [(name, kind, text)] for the settings it sets.

    known: every setting name; hooks: {hook name: arity}; source: the file's text to
    evaluate instead of reading it (None: read the file, or import the python: module).
    """
    _hooks.clear()
    _objects.clear()
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    namespace = _exec_file(location, source)
    found = []
    for name, value in list(namespace.items()):
        if name not in known:
            continue
        if name in hooks and value is not None:
            _hooks[name] = _resolve_callable(name, value, hooks[name])
            found.append((name, "callable", _describe(_hooks[name])[1]))
            continue
        if not isinstance(value, (str, int, float, bool, list, tuple, set, frozenset, type(None))):
            _objects[name] = value
        found.append((name,) + _describe(value))
    return found


def setting_object(name):
    """The Python object a setting was given as (a logger class, a logconfig dict), or None."""
    return _objects.get(name)


# ---------------------------------------------------------------- the objects hooks see

class Config:
    """Gunicorn's cfg: every setting as an attribute (cfg.bind, cfg.workers...)."""

    def __init__(self, values):
        object.__setattr__(self, "_values", values)

    def __getattr__(self, name):
        values = object.__getattribute__(self, "_values")
        if name in _hooks:
            return _hooks[name]
        try:
            return values[name]
        except KeyError:
            raise AttributeError("No configuration setting for: %s" % name) from None

    def __setattr__(self, name, value):
        raise AttributeError("Invalid access!")

    @property
    def settings(self):
        return {k: _SettingView(k, getattr(self, k)) for k in self._values}

    @property
    def proc_name(self):
        return self._values.get("proc_name") or self._values.get("default_proc_name")

    @property
    def uid(self):
        return self._values["user"]

    @property
    def gid(self):
        return self._values["group"]

    @property
    def env(self):
        return dict(item.split("=", 1) for item in self._values.get("raw_env", []))

    @property
    def address(self):
        return list(self._values.get("bind", []))

    @property
    def is_ssl(self):
        return bool(self._values.get("certfile") or self._values.get("keyfile"))

    @property
    def worker_class_str(self):
        return "gthread" if self._values.get("threads", 1) > 1 else self._values.get("worker_class", "sync")

    def __str__(self):
        width = max(len(k) for k in self._values)
        return "\n".join("%-*s = %s" % (width, k, self._values[k]) for k in sorted(self._values))


class _SettingView:
    def __init__(self, name, value):
        self.name, self.value = name, value

    def get(self):
        return self.value


class Log:
    """server.log / worker.log: Gunicorn's logger interface, writing to Narwhal's error log
    (or to the Python logger that owns the logs)."""

    def _emit(self, level, msg, args, exc_info=False):
        if _logger is not None:
            _logger.log(level if level != EXCEPTION else ERROR, msg, *args, exc_info=exc_info)
            return
        text = (msg % args) if args else str(msg)
        if exc_info:
            tb = traceback.format_exc()
            if tb and not tb.startswith("NoneType: None"):
                text += "\n" + tb.rstrip("\n")
        _log(level, text)

    def debug(self, msg, *args, **kwargs):
        self._emit(DEBUG, msg, args, kwargs.get("exc_info", False))

    def info(self, msg, *args, **kwargs):
        self._emit(INFO, msg, args, kwargs.get("exc_info", False))

    def warning(self, msg, *args, **kwargs):
        self._emit(WARNING, msg, args, kwargs.get("exc_info", False))

    warn = warning

    def error(self, msg, *args, **kwargs):
        self._emit(ERROR, msg, args, kwargs.get("exc_info", False))

    def critical(self, msg, *args, **kwargs):
        self._emit(CRITICAL, msg, args, kwargs.get("exc_info", False))

    def exception(self, msg, *args, **kwargs):
        self._emit(EXCEPTION, msg, args, True)

    def log(self, lvl, msg, *args, **kwargs):
        if isinstance(lvl, str):
            lvl = {"debug": DEBUG, "info": INFO, "warning": WARNING, "error": ERROR,
                   "critical": CRITICAL}.get(lvl.lower(), INFO)
        self._emit(lvl, msg, args, kwargs.get("exc_info", False))

    def reopen_files(self):
        pass

    def close_on_exec(self):
        pass


class Worker:
    """A worker as hooks see it (Gunicorn's Worker): pid, ppid, age, cfg, log, ..."""

    def __init__(self, pid, age, ppid, cfg, log, timeout, app=None):
        self.pid = pid
        self.ppid = ppid
        self.age = age
        self.cfg = cfg
        self.log = log
        self.timeout = timeout
        self.alive = True
        self.booted = False
        self.aborted = False
        self.nr = 0
        self.max_requests = cfg.max_requests or sys.maxsize
        self.app = app
        self.wsgi = None

    def __repr__(self):
        return "<Worker %s>" % self.pid


class Server:
    """The arbiter as hooks see it: pid, cfg, log, WORKERS, num_workers, LISTENERS..."""

    def __init__(self, pid, cfg, log):
        self.pid = pid
        self.cfg = cfg
        self.log = log
        self.app = _App(cfg)
        self.WORKERS = {}
        self.LISTENERS = []
        self.num_workers = cfg.workers
        self.timeout = cfg.timeout
        self.proc_name = cfg.proc_name
        self.master_name = "Master"
        self.reexec_pid = 0
        self.master_pid = 0


class _App:
    def __init__(self, cfg):
        self.cfg = cfg


def configure(values_json, pid):
    """The effective settings, after every layer; builds cfg and the server object."""
    global _cfg, _server
    values = json.loads(values_json)
    for name, obj in _objects.items():
        values[name] = obj
    _cfg = Config(values)
    _server = Server(pid, _cfg, Log())


def set_logger(logger):
    global _logger
    _logger = logger
    if _server is not None:
        _server.log = logger
    if _worker is not None:
        _worker.log = logger


def _call(name, *args):
    hook = _hooks.get(name)
    if hook is None:
        return
    try:
        hook(*args)
    except Exception:
        Log()._emit(EXCEPTION, "Exception in %s hook", (name,), True)


def master_hook(name, workers, num_workers, listeners, arg1=None, arg2=None):
    """Calls a master-side hook. workers: [(pid, age)]; arg1/arg2 by hook:
    pre_fork (age), child_exit (pid, age), nworkers_changed (new, old)."""
    if name not in _hooks:
        return
    _server.num_workers = num_workers
    _server.LISTENERS = list(listeners)
    known = _server.WORKERS
    _server.WORKERS = {pid: known.get(pid) or Worker(pid, age, _server.pid, _cfg, _server.log, _cfg.timeout)
                       for pid, age in workers}
    if name == "pre_fork":
        _call(name, _server, Worker(None, arg1, _server.pid, _cfg, _server.log, _cfg.timeout))
    elif name == "child_exit":
        worker = known.get(arg1) or Worker(arg1, arg2, _server.pid, _cfg, _server.log, _cfg.timeout)
        worker.alive = False
        _call(name, _server, worker)
    elif name == "nworkers_changed":
        _call(name, _server, arg1, arg2)
    else:
        _call(name, _server)


def start_worker(age, master_pid):
    """The worker object of this process (a worker process calls this once)."""
    global _worker
    _server.pid = master_pid
    _worker = Worker(os.getpid(), age, master_pid, _cfg, _server.log, _cfg.timeout)
    return _worker


def worker_hook(name):
    """Calls a worker-side hook: post_fork, post_worker_init, worker_int, worker_abort, worker_exit."""
    if name not in _hooks:
        return
    if name in ("post_fork", "worker_exit"):
        _call(name, _server, _worker)
    else:
        _call(name, _worker)


# ---------------------------------------------------------------- per request

class Request:
    """Gunicorn's Request as pre_request/post_request see it, read from the environ."""

    def __init__(self, environ):
        self.method = environ.get("REQUEST_METHOD")
        self.uri = environ.get("RAW_URI", "")
        self.path, _, rest = self.uri.partition("?")
        if "://" in self.path:
            self.path = "/" + self.path.split("://", 1)[1].partition("/")[2]
        self.query, _, self.fragment = rest.partition("#")
        proto = environ.get("SERVER_PROTOCOL", "HTTP/1.1")
        try:
            major, minor = proto.split("/", 1)[1].split(".")
            self.version = (int(major), int(minor))
        except ValueError:
            self.version = (1, 1)
        self.scheme = environ.get("wsgi.url_scheme", "http")
        self.remote_addr = environ.get("REMOTE_ADDR")
        self.headers = []
        for key, value in environ.items():
            if key.startswith("HTTP_"):
                self.headers.append((key[5:].replace("_", "-"), value))
            elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
                self.headers.append((key.replace("_", "-"), value))
        self.trailers = []
        self.body = environ.get("wsgi.input")


class Response:
    """Gunicorn's Response as post_request and Logger.access() see it."""

    def __init__(self, status, headers, sent):
        self.status = status
        try:
            self.status_code = int(status.split(None, 1)[0])
        except (ValueError, AttributeError, IndexError):
            self.status_code = None
        self.headers = headers
        self.sent = sent
        self.response_length = sent


def request_hooks():
    """(pre, post, access): what handle() must call around each request, or Nones."""
    pre = _hooks.get("pre_request")
    post = _hooks.get("post_request")
    if post is not None:
        n = _arity(post)
        if n == 3:
            fn3 = post
            post = lambda w, req, env, resp: fn3(w, req, env)
        elif n == 2:
            fn2 = post
            post = lambda w, req, env, resp: fn2(w, req)
    access = getattr(_logger, "access", None) if _logger is not None else None
    return pre, post, access


def before_request(pre, environ):
    req = Request(environ)
    if pre is not None:
        _worker.nr += 1
        try:
            pre(_worker, req)
        except Exception:
            Log()._emit(EXCEPTION, "Exception in pre_request hook", (), True)
    return req, datetime.datetime.now()


def after_request(post, access, req, environ, status, headers, sent, started):
    resp = Response(status, headers, sent)
    if post is not None:
        try:
            post(_worker, req, environ, resp)
        except Exception:
            Log()._emit(EXCEPTION, "Exception in post_request hook", (), True)
    if access is not None:
        try:
            access(resp, req, environ, datetime.datetime.now() - started)
        except Exception:
            Log()._emit(EXCEPTION, "Exception in access log", (), True)


def hook(name):
    """The hook the config file defined under name, or None (the TLS translation reads ssl_context)."""
    return _hooks.get(name)
