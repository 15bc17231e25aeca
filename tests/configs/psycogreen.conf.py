# The deployment psycogreen documents for Gunicorn's gevent worker: patch psycopg2 after
# gevent has patched the worker (post_fork runs in the worker, already patched).
worker_class = "gevent"


def post_fork(server, worker):
    from psycogreen.gevent import patch_psycopg
    patch_psycopg()
