# Observability-heavy config: statsd with Datadog tags, JSON logs through dictConfig,
# a post_request hook timing requests, and worker lifecycle hooks.
import os
import time

statsd_host = "127.0.0.1:%s" % os.environ["STATSD_PORT"]
statsd_prefix = "shop"
dogstatsd_tags = "service:shop,env:ci"
accesslog = "-"

logconfig_dict = {
    "root": {"level": "INFO", "handlers": ["json"]},
    "formatters": {"json": {"format": '{"logger":"%(name)s","level":"%(levelname)s","message":"%(message)s"}'}},
    "handlers": {"json": {"class": "logging.FileHandler", "formatter": "json", "filename": os.environ["JSON_LOG"]}},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["json"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["json"], "propagate": False},
    },
}


def pre_request(worker, req):
    req.started = time.monotonic()


def post_request(worker, req, environ, resp):
    worker.log.info("timed %s %s -> %s", req.method, req.path, resp.status_code)


def worker_exit(server, worker):
    server.log.info("worker %s leaving", worker.pid)
