using Narwhal.Logging;
using Narwhal.Loop;
using Narwhal.Python;

namespace Narwhal.Asgi;

/// <summary>
/// The embedded interpreter with the ASGI glue and the user's app loaded, and the event
/// loop that serves it. Started, run and finalized on the worker's main thread: the thread
/// that initialized Python is the one that runs the loop.
/// </summary>
internal sealed class AsgiRuntime : ILoopRuntime
{
    private readonly PyStored _glue;
    private readonly PyStored _app;
    private readonly LoopServer _server;
    private readonly AsgiOptions _options;

    private AsgiRuntime(PyStored glue, PyStored app, LoopServer server, AsgiOptions options)
    {
        _glue = glue;
        _app = app;
        _server = server;
        _options = options;
    }

    /// <summary>
    /// Starts Python (unless the config file already did), loads the glue and imports the app;
    /// <paramref name="adapt"/>, when given, turns the imported object into the ASGI app the
    /// loop serves (a Tornado application). Returns without the GIL.
    /// </summary>
    public static AsgiRuntime Start(PythonInstallation python, IReadOnlyList<string> argv, IReadOnlyList<string> sysPath,
        IReadOnlyList<string> env, string appSpec, LoopServer server, AsgiOptions options,
        Func<PyBorrowed, PyStored>? adapt = null)
    {
        EmbeddedPython.Start(python);
        using var gil = Gil.Take();
        var glue = EmbeddedPython.LoadModule("narwhal_asgi.py", "narwhal_asgi").Store();
        AsgiBridge.Install(glue, server, options);
        server.Encoder = new ScopeBuilder(options.RootPath);
        AppLoader.Setup(argv, sysPath, env);
        var app = AppLoader.Import(appSpec);
        if (adapt != null)
            using (var imported = app)
                app = adapt(imported);
        return new AsgiRuntime(glue, app, server, options);
    }

    /// <summary>
    /// Runs the event loop on this thread until the server posts Stop (after lifespan
    /// shutdown); returns the worker's exit code: 0, or 3 when the app's lifespan startup failed.
    /// </summary>
    public int Serve()
    {
        var options = _options;
        using var gil = Gil.Take();
        using var serve = Interop.GetAttr(_glue, "serve");
        using var fd = Interop.Long(_server.Inbox.Fd);
        using var loop = Interop.Str(options.Loop);
        using var lifespan = Interop.Str(options.Lifespan);
        using var grace = Interop.Long(options.DisconnectGrace);
        using var graceful = Interop.Long((long)options.GracefulTimeout);
        try
        {
            using var code = Interop.Call(serve, _app, fd, loop, lifespan, grace, graceful);
            return (int)Interop.AsLong(code);
        }
        catch (PythonException e)
        {
            ErrorLog.Error($"The event loop failed\n{e.PythonTraceback}");
            return 1;
        }
    }

    public string? LoopStack(TimeSpan limit) => LoopStacks.Read(_glue, limit);

    /// <summary>Finalizes Python on the main thread, once the loop has returned.</summary>
    public void Shutdown()
    {
        PythonLogging.FinalizeInterpreter();
    }
}
