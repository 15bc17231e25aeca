"""Loading the app, run inside the interpreter Narwhal embeds: Gunicorn's sys.path,
sys.argv and raw_env, then util.import_app's MODULE:NAME / MODULE:FACTORY(args) spec.
The same for every protocol: the spec names an object, the protocol's glue calls it.
"""

import ast
import os
import sys
import traceback


class AppImportError(Exception):
    """The app spec names something that is not an app (Gunicorn's exit code 4)."""


def setup(argv, paths, env):
    """Gunicorn's sys.path: the app's directory first, then --pythonpath entries.
    raw_env (KEY=VALUE) goes into os.environ too: the interpreter may have started (for
    the config file) before the server set them."""
    sys.argv = list(argv)
    for item in env:
        key, _, value = item.partition("=")
        os.environ[key] = value
    for path in reversed(paths):
        if path in sys.path:
            sys.path.remove(path)
        sys.path.insert(0, path)


def _called_with_wrong_args(f):
    """True if a TypeError came from calling f itself, not from inside it."""
    tb = sys.exc_info()[2]
    try:
        while tb is not None:
            if tb.tb_frame.f_code is getattr(f, "__code__", None):
                return False
            tb = tb.tb_next
        return True
    finally:
        del tb


def import_app(spec):
    """Gunicorn's util.import_app: MODULE, MODULE:NAME, MODULE:FACTORY(literal args)."""
    module, _, obj = spec.partition(":")
    if not obj:
        obj = "application"
    try:
        mod = __import__("importlib").import_module(module)
    except ModuleNotFoundError as e:
        # Only a missing app module is a one-line error; an ImportError raised from
        # inside the app's own imports keeps its traceback.
        if e.name is not None and (module == e.name or module.startswith(e.name + ".")):
            if module.endswith(".py") and os.path.exists(module):
                raise AppImportError("Failed to find application, did you mean '%s:%s'?"
                                     % (module.rsplit(".", 1)[0], obj)) from None
            raise AppImportError("Failed to import module %r: No module named %r." % (module, e.name)) from None
        raise

    try:
        expression = ast.parse(obj, mode="eval").body
    except SyntaxError:
        raise AppImportError("Failed to parse %r as an attribute name or function call." % obj) from None

    if isinstance(expression, ast.Name):
        name, args, kwargs = expression.id, None, None
    elif isinstance(expression, ast.Call):
        if not isinstance(expression.func, ast.Name):
            raise AppImportError("Function reference must be a simple name: %r" % obj)
        name = expression.func.id
        try:
            args = [ast.literal_eval(arg) for arg in expression.args]
            kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in expression.keywords}
        except ValueError:
            raise AppImportError("Failed to parse arguments as literal values: %r" % obj) from None
    else:
        raise AppImportError("Failed to parse %r as an attribute name or function call." % obj)

    try:
        app = getattr(mod, name)
    except AttributeError:
        raise AppImportError("Failed to find attribute %r in %r." % (name, module)) from None

    if args is not None:
        try:
            app = app(*args, **kwargs)
        except TypeError as e:
            if _called_with_wrong_args(app):
                raise AppImportError("".join(traceback.format_exception_only(TypeError, e)).strip()) from None
            raise

    if app is None:
        raise AppImportError("Failed to find application object: %r" % obj)
    if not callable(app):
        raise AppImportError("Application object must be callable.")
    return app
