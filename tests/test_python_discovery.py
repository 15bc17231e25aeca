"""Which Python Narwhal embeds: --python, else $VIRTUAL_ENV, else the python3 beside the binary
(test_wheel.py: the venv pip installed it into), else python3 on PATH; and which it refuses."""

import os
import shutil
import subprocess
import sys
import sysconfig

import pytest
import requests

from conftest import APPS, DEBIAN_PYTHON, run_narwhal


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    path = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([DEBIAN_PYTHON, "-m", "venv", "--system-site-packages", "--without-pip", str(path)], check=True)
    site = subprocess.run([str(path / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    # The venv's own package: importable only from inside this venv.
    shutil.copy(APPS / "venvpkg" / "venv_probe.py", site)
    return path


def test_active_virtualenv_is_used(serve, venv):
    server = serve("venv_probe:app", cwd="/", env={"VIRTUAL_ENV": str(venv), "PATH": "%s/bin:%s" % (venv, os.environ["PATH"])})
    prefix, executable, flask = requests.get(server.url("/")).text.split("|")
    assert prefix == str(venv)
    assert executable.startswith(str(venv))
    assert flask == "flask"


def test_python_flag_selects_the_venv_interpreter(serve, venv):
    server = serve("venv_probe:app", cwd="/", python=str(venv / "bin" / "python"))
    assert requests.get(server.url("/")).text.split("|")[0] == str(venv)


def test_python3_on_path_is_the_default(serve, tmp_path):
    app = tmp_path / "which_python.py"
    app.write_text("import sys, _json\n"
                   "def app(e, sr):\n    sr('200 OK', [('Content-Type', 'text/plain')])\n"
                   "    return [('%s|%s' % (sys.executable, _json.__name__)).encode()]\n")
    expected = subprocess.run(["python3", "-c", "import sys; print(sys.executable)"],
                              capture_output=True, text=True, check=True).stdout.strip()
    server = serve("which_python:app", cwd=tmp_path)
    executable, c_json = requests.get(server.url("/")).text.split("|")
    assert executable == expected
    assert c_json == "_json"  # C extensions load: libpython was opened RTLD_GLOBAL


def test_python_without_shared_libpython_is_a_clear_error(tmp_path):
    fake = tmp_path / "python3"
    # A Python that reports no shared library, as a static build does.
    fake.write_text("#!/bin/sh\necho /opt/static/bin/python3\necho 3.11.0\necho\n")
    fake.chmod(0o755)
    r = run_narwhal("--python", str(fake), "hello:app")
    assert r.returncode == 3
    assert "has no shared libpython" in r.stderr
    # The line names the fix for this very version.
    assert "apt install libpython3.11" in r.stderr and "--enable-shared" in r.stderr
    assert "pyenv install 3.11.0" in r.stderr
    assert "Traceback" not in r.stderr and "   at " not in r.stderr


def test_free_threaded_python_is_refused_with_the_fix(tmp_path):
    # What a 3.13t build reports: Py_GIL_DISABLED set, a shared libpython3.13t present.
    fake = tmp_path / "python3.13t"
    fake.write_text("#!/bin/sh\necho /opt/py/bin/python3.13t\necho 3.13.0\n"
                    "echo /opt/py/lib/libpython3.13t.so.1.0\necho free-threaded\n")
    fake.chmod(0o755)
    r = run_narwhal("--python", str(fake), "hello:app")
    assert r.returncode == 3
    line = [l for l in r.stderr.splitlines() if "free-threaded" in l]
    assert line, r.stderr
    assert "Py_GIL_DISABLED" in line[0] and "python3.13, not python3.13t" in line[0]
    assert "Traceback" not in r.stderr and "   at " not in r.stderr
