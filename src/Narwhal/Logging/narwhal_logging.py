"""Python logging for Narwhal's error and access logs, used only when the user asks for
it: --log-config (ini), --log-config-json, logconfig_dict, or --logger-class. It keeps
Gunicorn's logger interface (glogging.Logger: setup, error/info/..., access, atoms, now,
reopen_files), so dict configs that name the "gunicorn.error" and "gunicorn.access"
loggers and Logger subclasses written for Gunicorn work unchanged.
"""

import base64
import binascii
import importlib
import json
import logging
import logging.config
import os
import sys
import threading
import time
import traceback

# The base every dict/ini/json config is laid over, as Gunicorn's is: errors to stderr,
# access lines to stdout, both through a generic "[time] [pid] [LEVEL] message" formatter.
CONFIG_DEFAULTS = {
    "version": 1,
    "disable_existing_loggers": False,
    "root": {"level": "INFO", "handlers": ["console"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["error_console"], "propagate": True, "qualname": "gunicorn.error"},
        "gunicorn.access": {"level": "INFO", "handlers": ["console"], "propagate": True, "qualname": "gunicorn.access"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "generic", "stream": "ext://sys.stdout"},
        "error_console": {"class": "logging.StreamHandler", "formatter": "generic", "stream": "ext://sys.stderr"},
    },
    "formatters": {
        "generic": {"format": "%(asctime)s [%(process)d] [%(levelname)s] %(message)s",
                    "datefmt": "[%Y-%m-%d %H:%M:%S %z]", "class": "logging.Formatter"},
    },
}

LEVELS = {"critical": logging.CRITICAL, "error": logging.ERROR, "warning": logging.WARNING,
          "info": logging.INFO, "debug": logging.DEBUG}


class SafeAtoms(dict):
    """Atoms for %-formatting: '"' escaped in strings, '-' for anything unknown,
    header and environ atoms looked up without regard to case."""

    def __init__(self, atoms):
        dict.__init__(self)
        for key, value in atoms.items():
            self[key] = value.replace('"', '\\"') if isinstance(value, str) else value

    def __getitem__(self, key):
        if key.startswith("{"):
            key = key.lower()
        return dict.__getitem__(self, key) if key in self else "-"


class Logger:
    """Narwhal's Python logger, interface-compatible with Gunicorn's glogging.Logger."""

    LOG_LEVELS = LEVELS
    loglevel = logging.INFO
    error_fmt = r"%(asctime)s [%(process)d] [%(levelname)s] %(message)s"
    datefmt = r"[%Y-%m-%d %H:%M:%S %z]"
    access_fmt = "%(message)s"
    atoms_wrapper_class = SafeAtoms

    def __init__(self, cfg):
        self.error_log = logging.getLogger("gunicorn.error")
        self.error_log.propagate = False
        self.access_log = logging.getLogger("gunicorn.access")
        self.access_log.propagate = False
        self.error_handlers = []
        self.access_handlers = []
        self.logfile = None
        self.lock = threading.Lock()
        self.cfg = cfg
        self.setup(cfg)

    def setup(self, cfg):
        self.loglevel = LEVELS.get((cfg.loglevel or "info").lower(), logging.INFO)
        self.error_log.setLevel(self.loglevel)
        self.access_log.setLevel(logging.INFO)
        self._own_handler(self.error_log, cfg.errorlog, logging.Formatter(self.error_fmt, self.datefmt), sys.stderr)
        if cfg.accesslog is not None:
            self._own_handler(self.access_log, cfg.accesslog, logging.Formatter(self.access_fmt), sys.stdout)
        if cfg.logconfig_dict:
            config = dict(CONFIG_DEFAULTS)
            config.update(cfg.logconfig_dict)
            try:
                logging.config.dictConfig(config)
            except (AttributeError, ImportError, ValueError, TypeError) as exc:
                raise RuntimeError("logconfig_dict: %s" % exc)
        elif cfg.logconfig_json:
            with open(cfg.logconfig_json) as f:
                config = dict(CONFIG_DEFAULTS)
                config.update(json.load(f))
            try:
                logging.config.dictConfig(config)
            except (AttributeError, ImportError, ValueError, TypeError) as exc:
                raise RuntimeError("logconfig_json: %s" % exc)
        elif cfg.logconfig:
            if not os.path.exists(cfg.logconfig):
                raise RuntimeError("Error: log config '%s' not found" % cfg.logconfig)
            defaults = dict(CONFIG_DEFAULTS)
            defaults["__file__"] = cfg.logconfig
            defaults["here"] = os.path.dirname(cfg.logconfig)
            logging.config.fileConfig(cfg.logconfig, defaults=defaults, disable_existing_loggers=False)

    def _own_handler(self, log, output, fmt, stream):
        for h in list(log.handlers):
            if getattr(h, "_narwhal", False):
                log.removeHandler(h)
        if output is None:
            return
        h = logging.StreamHandler(stream) if output == "-" else logging.FileHandler(output)
        h.setFormatter(fmt)
        h._narwhal = True
        log.addHandler(h)

    def critical(self, msg, *args, **kwargs):
        self.error_log.critical(msg, *args, **kwargs)

    def error(self, msg, *args, **kwargs):
        self.error_log.error(msg, *args, **kwargs)

    def warning(self, msg, *args, **kwargs):
        self.error_log.warning(msg, *args, **kwargs)

    def info(self, msg, *args, **kwargs):
        self.error_log.info(msg, *args, **kwargs)

    def debug(self, msg, *args, **kwargs):
        self.error_log.debug(msg, *args, **kwargs)

    def exception(self, msg, *args, **kwargs):
        self.error_log.exception(msg, *args, **kwargs)

    def log(self, lvl, msg, *args, **kwargs):
        if isinstance(lvl, str):
            lvl = LEVELS.get(lvl.lower(), logging.INFO)
        self.error_log.log(lvl, msg, *args, **kwargs)

    def now(self):
        return time.strftime("[%d/%b/%Y:%H:%M:%S %z]")

    def atoms(self, resp, req, environ, request_time):
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        seconds, micros = request_time.seconds, request_time.microseconds
        atoms = {
            "h": environ.get("REMOTE_ADDR", "-"),
            "l": "-",
            "u": self._user(environ) or "-",
            "t": self.now(),
            "r": "%s %s %s" % (environ["REQUEST_METHOD"], environ["RAW_URI"], environ["SERVER_PROTOCOL"]),
            "s": status,
            "m": environ.get("REQUEST_METHOD"),
            "U": environ.get("PATH_INFO"),
            "q": environ.get("QUERY_STRING"),
            "H": environ.get("SERVER_PROTOCOL"),
            "b": str(resp.sent) if getattr(resp, "sent", None) is not None else "-",
            "B": getattr(resp, "sent", None),
            "f": environ.get("HTTP_REFERER", "-"),
            "a": environ.get("HTTP_USER_AGENT", "-"),
            "T": seconds,
            "D": seconds * 1000000 + micros,
            "M": seconds * 1000 + int(micros / 1000),
            "L": "%d.%06d" % (seconds, micros),
            "p": "<%s>" % os.getpid(),
        }
        headers = req.headers.items() if hasattr(req.headers, "items") else req.headers
        atoms.update({"{%s}i" % k.lower(): v for k, v in headers})
        out = resp.headers.items() if hasattr(resp.headers, "items") else resp.headers
        atoms.update({"{%s}o" % k.lower(): v for k, v in out})
        atoms.update({"{%s}e" % k.lower(): v for k, v in environ.items()})
        return atoms

    def access(self, resp, req, environ, request_time):
        cfg = self.cfg
        if not (cfg.accesslog or cfg.logconfig or cfg.logconfig_dict or cfg.logconfig_json
                or (cfg.syslog and not cfg.disable_redirect_access_to_syslog)):
            return
        atoms = self.atoms_wrapper_class(self.atoms(resp, req, environ, request_time))
        try:
            self.access_log.info(cfg.access_log_format, atoms)
        except Exception:
            self.error(traceback.format_exc())

    def _user(self, environ):
        auth = environ.get("HTTP_AUTHORIZATION")
        if not auth or not auth.lower().startswith("basic"):
            return None
        parts = auth.split(" ", 1)
        if len(parts) != 2:
            return None
        try:
            decoded = base64.b64decode(parts[1].strip().encode("utf-8")).decode("utf-8")
        except (TypeError, binascii.Error, UnicodeDecodeError):
            return None
        user, sep, _ = decoded.partition(":")
        return user if sep else None

    def reopen_files(self):
        for log in [logging.getLogger(name) for name in logging.root.manager.loggerDict] + [logging.root]:
            for handler in log.handlers:
                if isinstance(handler, logging.FileHandler):
                    with self.lock:
                        handler.acquire()
                        try:
                            if handler.stream:
                                handler.close()
                                handler.stream = handler._open()
                        finally:
                            handler.release()

    def close_on_exec(self):
        pass


DEFAULT_CLASSES = ("gunicorn.glogging.Logger", "simple", "narwhal")


def create(cfg, logger_class, class_object, paths):
    """The logger object for this process: Narwhal's, or the user's class (a dotted path,
    or a class object from the config file), built with cfg as Gunicorn builds it.
    paths (chdir, pythonpath) go on sys.path first, as Gunicorn puts them before the
    logger class is imported."""
    for path in reversed(paths):
        if path not in sys.path:
            sys.path.insert(0, path)
    if class_object is not None:
        cls = class_object
    elif logger_class in DEFAULT_CLASSES:
        cls = Logger
    else:
        module, _, name = logger_class.rpartition(".")
        if not module:
            raise RuntimeError("logger_class %r is not a dotted path (module.Class)" % logger_class)
        cls = getattr(importlib.import_module(module), name)
    logger = cls(cfg)
    if hasattr(cls, "install"):
        cls.install()
    return logger


_METHODS = {10: "debug", 20: "info", 30: "warning", 40: "error", 50: "critical"}


def emit(logger, level, text):
    """An error-log record from the server, through the method Gunicorn's own code would
    call (log.info(...), log.exception(...)), so a subclass overriding it gets the call.
    Level 41 is an exception whose traceback is already in the text."""
    if level == 41:
        logger.exception(text, exc_info=False)
    else:
        getattr(logger, _METHODS.get(level, "info"))(text)
