"""A WSGI app that waits on PostgreSQL: SELECT pg_sleep(s) per request, one connection each.

Served by -k gevent with psycogreen's patch in post_fork (tests/configs/psycogreen.conf.py),
psycopg2's waits go through gevent's hub, so requests wait side by side."""
import os

import psycopg2
import psycopg2.extensions


def app(environ, start_response):
    seconds = float(environ.get("QUERY_STRING") or "0.3")
    with psycopg2.connect(host=os.environ["PGHOST"], port=os.environ["PGPORT"], dbname="postgres", user="postgres") as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_sleep(%s)", (seconds,))
    callback = psycopg2.extensions.get_wait_callback()
    body = ("%s.%s" % (callback.__module__, callback.__name__) if callback else "none").encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
