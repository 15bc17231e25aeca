"""The CPython interpreters the version and wheel tests run under: pyenv's 3.9-3.13 builds when
pyenv has them, and Debian's /usr/bin/python3. A clean Debian machine has no pyenv, so each
pyenv interpreter may be absent: tests ask `require()` and are skipped with the reason."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

DEBIAN_PYTHON = "/usr/bin/python3"
PYENV_MINORS = ("3.9", "3.10", "3.11", "3.12", "3.13")


def _pyenv():
    found = shutil.which("pyenv")
    if found:
        return found
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    candidate = os.path.join(root, "bin", "pyenv")
    return candidate if os.access(candidate, os.X_OK) else None


def pyenv_python(minor):
    """The newest pyenv CPython X.Y.Z for minor "X.Y" (no free-threaded "t" or virtualenv
    entries), or None when pyenv or that version is not installed."""
    pyenv = _pyenv()
    if pyenv is None:
        return None
    try:
        bare = subprocess.run([pyenv, "versions", "--bare"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    matching = [v for v in bare.split() if re.fullmatch(re.escape(minor) + r"\.\d+", v)]
    if not matching:
        return None
    newest = max(matching, key=lambda v: tuple(int(p) for p in v.split(".")))
    prefix = subprocess.run([pyenv, "prefix", newest], capture_output=True, text=True).stdout.strip()
    python = Path(prefix) / "bin" / "python3"
    return str(python) if prefix and python.exists() else None


def interpreter(name):
    """"debian" or a pyenv minor ("3.12") -> the interpreter's path, or None when absent."""
    if name == "debian":
        return DEBIAN_PYTHON if os.path.exists(DEBIAN_PYTHON) else None
    return pyenv_python(name)


def require(name):
    """The interpreter's path, or the test is skipped saying what is missing."""
    python = interpreter(name)
    if python is None:
        if name == "debian":
            pytest.skip("%s is not installed" % DEBIAN_PYTHON)
        pytest.skip("no pyenv CPython %s on this machine (pyenv %s)" % (name, "absent" if _pyenv() is None else "present"))
    return python


def ask(python, code):
    """What `python -c code` prints, stripped."""
    return subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
