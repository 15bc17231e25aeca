"""--spew (Gunicorn's): every line of Python a worker runs, printed as 'file:line: source'.
Run inside the interpreter Narwhal embeds; loaded only when --spew is set."""

import sys


def _spew(frame, event, arg):
    """Gunicorn's --spew: every line executed, as 'file:line: source'."""
    if event == "line":
        import linecache
        filename = frame.f_code.co_filename
        lineno = frame.f_lineno
        print("%s:%s: %s" % (filename, lineno, linecache.getline(filename, lineno).rstrip()), flush=True)
    return _spew


def traced(handle):
    """Wraps a protocol's request handler so each request runs under the tracer."""

    def handle_traced(*args):
        # Each request thread is Narwhal's, not threading's: trace it where it runs.
        if sys.gettrace() is None:
            sys.settrace(_spew)
        return handle(*args)

    return handle_traced
