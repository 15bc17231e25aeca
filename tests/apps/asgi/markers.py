"""Marker files the test apps write so a test can see what ran inside the worker: one line
appended per event, in the folder named by ASGI_MARKERS (nothing when it is unset)."""

import os


def mark(name, text=""):
    folder = os.environ.get("ASGI_MARKERS")
    if folder:
        with open(os.path.join(folder, name), "a") as f:
            f.write("%s\n" % text)
