using Narwhal.Logging;
using Narwhal.Loop;
using Narwhal.Python;
using Narwhal.Wsgi;

namespace Narwhal.Green;

/// <summary>
/// The gevent or eventlet worker's interpreter: patched at its start (<see cref="GreenPatch"/>),
/// with narwhal_wsgi.py (PEP 3333, as for the threaded worker) and narwhal_green.py (the hub
/// side) loaded and the user's WSGI app imported. The main thread runs the hub; each request
/// runs in a greenlet of its own.
/// </summary>
internal sealed class GreenRuntime : ILoopRuntime
{
    private readonly PyStored _glue;
    private readonly PyStored _app;
    private readonly LoopServer _server;
    private readonly GreenOptions _options;

    private GreenRuntime(PyStored glue, PyStored app, LoopServer server, GreenOptions options)
    {
        _glue = glue;
        _app = app;
        _server = server;
        _options = options;
    }

    /// <summary>Starts (and so patches) Python unless the config file already did, loads the glue and imports the app. Returns without the GIL.</summary>
    public static GreenRuntime Start(PythonInstallation python, IReadOnlyList<string> argv, IReadOnlyList<string> sysPath,
        IReadOnlyList<string> env, string appSpec, LoopServer server, GreenOptions options)
    {
        EmbeddedPython.Start(python);
        if (GreenPatch.Failure is { } failure) throw new PythonNotUsableException(failure);
        if (GreenPatch.Applied != options.Library)
            throw new PythonNotUsableException($"the interpreter is not patched for {options.Library} (was the worker started by a Narwhal master?)");
        using var gil = Gil.Take();
        var wsgi = EmbeddedPython.LoadModule("narwhal_wsgi.py", "narwhal_wsgi").Store();
        var glue = EmbeddedPython.LoadModule("narwhal_green.py", "narwhal_green").Store();
        GreenBridge.Install(glue, wsgi, server);
        AppLoader.Setup(argv, sysPath, env);
        if (!options.Sendfile)
            using (var off = Interop.Bool(false)) Interop.SetAttr(wsgi, "SENDFILE", off);
        var app = AppLoader.Import(appSpec);
        // Greenlets run requests side by side, but one at a time: not wsgi.multithread (Gunicorn's gevent worker says the same).
        server.Encoder = new EnvironEncoder(new EnvironBuilder(wsgi, multithread: false, options.Multiprocess, options.HeaderMap));
        return new GreenRuntime(glue, app, server, options);
    }

    public int Serve()
    {
        using var gil = Gil.Take();
        using var serve = Interop.GetAttr(_glue, "serve");
        using var library = Interop.Str(_options.Library);
        using var fd = Interop.Long(_server.Inbox.Fd);
        using var concurrency = Interop.Long(_options.Concurrency);
        using var logged = Interop.StrList(_options.LoggedKeys);
        try
        {
            using var code = Interop.Call(serve, _app, library, fd, concurrency, logged);
            return (int)Interop.AsLong(code);
        }
        catch (PythonException e)
        {
            ErrorLog.Error($"The {_options.Library} hub failed\n{e.PythonTraceback}");
            return 1;
        }
    }

    public string? LoopStack(TimeSpan limit) => LoopStacks.Read(_glue, limit);

    public void Shutdown()
    {
        PythonLogging.FinalizeInterpreter();
    }
}
