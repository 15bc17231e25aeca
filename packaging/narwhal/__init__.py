"""Narwhal, a Gunicorn-compatible HTTP server: the native binary, and how Python finds it.

The server is one native executable that pip installs next to the environment's python
(VENV/bin/narwhal). This package only locates it, for ``python -m narwhal``.
"""

import os
import shutil
import sysconfig

from importlib.metadata import PackageNotFoundError, files, version

try:
    __version__ = version("narwhal")
except PackageNotFoundError:  # imported from a checkout, not installed
    __version__ = "unknown"

__all__ = ["binary", "__version__"]


def binary():
    """The path of the narwhal executable installed with this package."""
    # The wheel's RECORD lists where pip really put it, whatever the install scheme
    # (venv, --user, --prefix, a system install).
    try:
        recorded = files("narwhal") or []
    except PackageNotFoundError:
        recorded = []
    for entry in recorded:
        if entry.name == "narwhal" and entry.parent.name in ("bin", "Scripts"):
            path = os.path.abspath(str(entry.locate()))
            if os.access(path, os.X_OK):
                return path
    for candidate in (os.path.join(sysconfig.get_path("scripts"), "narwhal"), shutil.which("narwhal")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise FileNotFoundError("the narwhal executable is not installed next to this package; reinstall the wheel")
