# A production gunicorn.conf.py of the usual shape: sizes from the environment, an access
# log with a request id, env for the app, worker recycling, a couple of hooks.
import multiprocessing
import os

bind = "127.0.0.1:%s" % os.environ.get("PORT", "8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
threads = 2
timeout = 20
graceful_timeout = 10
keepalive = 5
max_requests = 6
max_requests_jitter = 0
preload_app = True
proc_name = "shop-web"
raw_env = ["SHOP_MODE=production", "SHOP_REGION=eu-1"]
accesslog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s rid=%({x-request-id}i)s %(L)s'
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")


def when_ready(server):
    server.log.info("shop-web ready with %d workers", server.cfg.workers)


def post_fork(server, worker):
    server.log.info("worker %s (age %s) forked", worker.pid, worker.age)
