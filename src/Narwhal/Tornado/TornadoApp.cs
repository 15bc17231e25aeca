using Narwhal.Python;

namespace Narwhal.Tornado;

/// <summary>
/// The tornado worker's app: the imported <c>tornado.web.Application</c> (or any
/// <c>HTTPServerConnectionDelegate</c>, or a WSGI callable, as Gunicorn's TornadoWorker
/// takes them) served on the asgi worker's loop through narwhal_tornado.py, which implements
/// Tornado's HTTP connection over the bridge. Hold the GIL.
/// </summary>
internal static class TornadoApp
{
    private static readonly EmbeddedModule Module = new("narwhal_tornado.py", "narwhal_tornado");

    /// <summary>The ASGI callable that serves <paramref name="app"/>; <see cref="AppLoadException"/> when it is not a Tornado or WSGI app.</summary>
    public static PyStored Adapt(PyBorrowed app)
    {
        try
        {
            return Module.Call("asgi_app", app).Store();
        }
        catch (PythonException e) when (e.TypeName is "TypeError" or "ImportError" or "ModuleNotFoundError")
        {
            throw new AppLoadException($"{e.TypeName}: {e.PythonMessage}");
        }
        catch (PythonException e)
        {
            throw new AppLoadException($"{e.TypeName}: {e.PythonMessage}", e.PythonTraceback);
        }
    }
}
