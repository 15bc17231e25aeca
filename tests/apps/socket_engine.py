"""Reports what the worker's socket engine looks like from inside it."""
import json
import os


def app(environ, start_response):
    names = []
    for task in os.listdir("/proc/self/task"):
        try:
            with open("/proc/self/task/%s/comm" % task) as f:
                names.append(f.read().strip())
        except OSError:
            pass
    body = json.dumps({
        "variable": os.environ.get("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS"),
        "event_threads": names.count(".NET Sockets"),
    }).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
