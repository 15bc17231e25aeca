"""An app for the systemd notify tests. With NOTIFY_TEST_DIR set, every worker but the first
to load waits before it is loaded (so a READY=1 sent when one worker serves would be seen
too early), and each marks that it loaded with a file loaded-PID."""

import os
import time

_dir = os.environ.get("NOTIFY_TEST_DIR")
if _dir:
    try:
        os.close(os.open(os.path.join(_dir, "first"), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        time.sleep(1.5)
    open(os.path.join(_dir, "loaded-%d" % os.getpid()), "w").close()


def app(environ, start_response):
    body = ("pid=%d notify_socket=%s" % (os.getpid(), os.environ.get("NOTIFY_SOCKET", ""))).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
