"""The wheel (packaging/build-wheel): built once, installed offline by each interpreter's own pip
into a fresh venv, and run as VENV/bin/narwhal by full path as a deployment runs it: the venv
not activated, another python3 first on PATH, no VIRTUAL_ENV, no DOTNET_ROOT and no dotnet on
PATH. The app must run on the venv's interpreter, with the venv's site-packages."""

import base64
import concurrent.futures
import csv
import hashlib
import io
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
import zipfile

import pytest
import requests

from conftest import ROOT, Server, free_port
from pythons import ask, interpreter, require

# The interpreters the issue names (a 3.9, a 3.12 and a 3.13 venv) and Debian's.
WHEEL_INTERPRETERS = ["3.9", "3.12", "3.13", "debian"]

PROBE_APP = """\
import json, sys
import narwhal  # the wheel's own package: importable only from the venv's site-packages

def app(environ, start_response):
    body = json.dumps({"prefix": sys.prefix, "executable": sys.executable,
                       "version": "%d.%d.%d" % sys.version_info[:3], "package": narwhal.__file__}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
"""


def csproj_version():
    return next(ET.parse(ROOT / "src" / "Narwhal" / "Narwhal.csproj").iter("Version")).text.strip()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    # Reuses the binary tests/run built: only the zip is written here.
    r = subprocess.run([str(ROOT / "packaging" / "build-wheel"), "--out-dir", str(out)],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr
    wheels = list(out.glob("*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def venv_with_wheel(wheel, tmp_path_factory):
    """venv_with_wheel("3.12") -> a fresh venv of that interpreter, the wheel installed by the
    venv's own pip (as users do: `python -m venv`, then `pip install`), or the test is skipped
    when the interpreter is absent. All are made at once, in parallel: ensurepip is the slow part."""
    def make(name, python):
        path = tmp_path_factory.mktemp("venv-" + name.replace(".", "")) / "env"
        subprocess.run([python, "-m", "venv", str(path)], check=True, capture_output=True, timeout=300)
        r = subprocess.run([str(path / "bin" / "python"), "-m", "pip", "install", "--no-index",
                            "--disable-pip-version-check", "-q", str(wheel)],
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
        return path

    available = {name: interpreter(name) for name in WHEEL_INTERPRETERS}
    with concurrent.futures.ThreadPoolExecutor(len(available)) as pool:
        futures = {name: pool.submit(make, name, python) for name, python in available.items() if python}

    def get(name):
        require(name)
        return futures[name].result()
    return get


@pytest.fixture(scope="module")
def other_venv(tmp_path_factory):
    """Another Python to put first on PATH: a venv of its own, so its sys.prefix tells it apart."""
    path = tmp_path_factory.mktemp("other") / "other-env"
    subprocess.run([require("debian"), "-m", "venv", "--without-pip", str(path)], check=True, timeout=60)
    return path


def deployment_env(other_venv, **extra):
    """No virtualenv active, no .NET anywhere, and only the other Python on PATH."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("VIRTUAL_ENV", "PYTHONHOME", "PYTHONPATH") and not k.startswith("DOTNET_")}
    env["PATH"] = str(other_venv / "bin")
    assert shutil.which("dotnet", path=env["PATH"]) is None
    assert shutil.which("python3", path=env["PATH"]) == str(other_venv / "bin" / "python3")
    env.update(extra)
    return env


def serve_installed(binary, app_dir, env, *args):
    port = free_port()
    return Server([*args, "-b", "127.0.0.1:%d" % port, "probe:app"], app_dir, env, port,
                  app_dir / ("server-%d.log" % port), binary=binary)


@pytest.fixture
def app_dir(tmp_path):
    (tmp_path / "probe.py").write_text(PROBE_APP)
    return tmp_path


def worker_maps(server):
    pid = int(re.search(r"Booting worker with pid: (\d+)", server.log).group(1))
    with open("/proc/%d/maps" % pid) as f:
        return f.read()


def test_wheel_is_named_for_its_version_and_glibc_floor(wheel):
    version = csproj_version()
    name = re.fullmatch(r"narwhal-(.+)-py3-none-manylinux_2_(\d+)_x86_64\.whl", wheel.name)
    assert name and name.group(1) == version, wheel.name
    with zipfile.ZipFile(wheel) as zf:
        binary_entry = zf.getinfo("narwhal-%s.data/scripts/narwhal" % version)
        assert (binary_entry.external_attr >> 16) & 0o111, "the binary must carry its run bit"
        binary = zf.read(binary_entry)
        # The floor again, with the other tool (build-wheel reads readelf -V): the highest
        # GLIBC_ version objdump -T shows beside the binary's symbols.
        extracted = wheel.parent / "narwhal.extracted"
        extracted.write_bytes(binary)
        symbols = subprocess.run(["objdump", "-T", str(extracted)], capture_output=True, text=True, check=True).stdout
        floor = max(tuple(int(p) for p in v.split(".")) for v in re.findall(r"\bGLIBC_([0-9.]+)\b", symbols))
        assert int(name.group(2)) == floor[1] and floor[0] == 2

        dist_info = "narwhal-%s.dist-info/" % version
        metadata = zf.read(dist_info + "METADATA").decode()
        for line in ("Name: narwhal", "Version: " + version, "Requires-Python: >=3.9", "Metadata-Version: 2.1"):
            assert line in metadata.splitlines()
        for field in ("Summary: ", "License: ", "Project-URL: ", "Classifier: Programming Language :: Python :: 3.13"):
            assert field in metadata
        assert "Tag: py3-none-manylinux_2_%d_x86_64" % floor[1] in zf.read(dist_info + "WHEEL").decode()
        assert "Root-Is-Purelib: false" in zf.read(dist_info + "WHEEL").decode()

        # RECORD lists every other file with its sha256 and size.
        rows = list(csv.reader(io.StringIO(zf.read(dist_info + "RECORD").decode())))
        recorded = {row[0]: row for row in rows}
        assert set(recorded) == set(zf.namelist())
        for path, digest, size in rows:
            if path == dist_info + "RECORD":
                assert digest == "" and size == ""
                continue
            data = zf.read(path)
            expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert digest == "sha256=" + expected and int(size) == len(data), path
        assert {"narwhal/__init__.py", "narwhal/__main__.py"} <= set(zf.namelist())


@pytest.mark.parametrize("name", WHEEL_INTERPRETERS, ids=lambda n: "debian" if n == "debian" else "pyenv-" + n)
def test_installed_narwhal_serves_with_its_venvs_python(venv_with_wheel, other_venv, app_dir, name):
    venv = venv_with_wheel(name)
    venv_python = str(venv / "bin" / "python")
    expected_version = ask(venv_python, "import sys; print('%d.%d.%d' % sys.version_info[:3])")
    binary = venv / "bin" / "narwhal"
    assert os.access(binary, os.X_OK)
    env = deployment_env(other_venv)

    version = subprocess.run([str(binary), "--version"], env=env, capture_output=True, text=True)
    assert version.stdout.strip() == "narwhal (version %s)" % csproj_version()
    # python -m narwhal runs the same binary.
    via_module = subprocess.run([venv_python, "-m", "narwhal", "--version"], env=env, capture_output=True, text=True)
    assert via_module.stdout.strip() == version.stdout.strip(), via_module.stderr

    server = serve_installed(binary, app_dir, env)
    try:
        doc = requests.get(server.url("/"), timeout=10).json()
        assert doc["prefix"] == str(venv), server.log
        assert doc["version"] == expected_version
        assert doc["executable"].startswith(str(venv / "bin"))
        assert doc["package"].startswith(str(venv))
        # Native code only: CPython's libpython is mapped, no .NET runtime is.
        maps = worker_maps(server)
        assert "libpython" in maps
        assert "libcoreclr" not in maps and "libhostfxr" not in maps
    finally:
        server.stop()


def test_virtual_env_and_python_flag_win_over_the_binarys_own_venv(venv_with_wheel, other_venv, app_dir):
    venv = venv_with_wheel("debian")
    # The other venv needs the probe's import: the wheel's package, put on its path.
    site = ask(str(other_venv / "bin" / "python"), "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    shutil.copytree(venv / os.path.relpath(site, other_venv) / "narwhal", os.path.join(site, "narwhal"))
    binary = venv / "bin" / "narwhal"
    for env, args in ((deployment_env(other_venv, VIRTUAL_ENV=str(other_venv)), ()),
                      (deployment_env(other_venv), ("--python", str(other_venv / "bin" / "python")))):
        server = serve_installed(binary, app_dir, env, *args)
        try:
            assert requests.get(server.url("/"), timeout=10).json()["prefix"] == str(other_venv), server.log
        finally:
            server.stop()


def test_python_m_narwhal_serves_with_that_interpreter(venv_with_wheel, other_venv, app_dir):
    venv = venv_with_wheel("debian")
    port = free_port()
    server = Server(["-m", "narwhal", "-b", "127.0.0.1:%d" % port, "probe:app"], app_dir, deployment_env(other_venv),
                    port, app_dir / "server-m.log", binary=venv / "bin" / "python")
    try:
        assert requests.get(server.url("/"), timeout=10).json()["prefix"] == str(venv), server.log
        # The module execs the binary: the master is narwhal itself, not a Python parent.
        assert os.readlink("/proc/%d/exe" % server.pid) == str(venv / "bin" / "narwhal")
    finally:
        server.stop()
