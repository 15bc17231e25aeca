"""--reload: the source files of the app's modules, run inside the interpreter Narwhal
embeds. The worker's file watcher asks again each round, as the app imports more."""

import os
import sys


def _stdlib_dirs():
    import sysconfig
    paths = sysconfig.get_paths()
    return tuple({os.path.join(paths[k], "") for k in ("stdlib", "platstdlib") if k in paths})


def source_files():
    """Source files of every loaded module outside the standard library, for --reload.

    Installed packages count (site-packages may sit inside the stdlib directory, as in
    pyenv builds): upgrading a dependency in place is a change worth a reload.
    """
    stdlib = _stdlib_dirs()
    files = set()
    for module in tuple(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if not path:
            continue
        if path.endswith((".pyc", ".pyo")):
            path = path[:-1]
        if path.startswith(stdlib) and "-packages" not in path:
            continue
        files.add(path)
    return sorted(files)
