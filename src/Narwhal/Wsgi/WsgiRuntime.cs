using Narwhal.Http;
using Narwhal.Logging;
using Narwhal.Python;

namespace Narwhal.Wsgi;

/// <summary>
/// The embedded interpreter with the WSGI glue module and the user's app loaded. Created and
/// finalized on the main thread; requests run on the worker's dedicated Python threads.
/// </summary>
internal sealed class WsgiRuntime
{
    private readonly PyStored _glue;
    private readonly PyStored _handle;
    private readonly PyStored _app;
    private readonly EnvironBuilder _environ;
    // The environ keys the access log reads ({key}e atoms), collected after the app ran.
    private readonly IReadOnlyList<string> _loggedKeys;

    private WsgiRuntime(PyStored glue, PyStored handle, PyStored app, EnvironBuilder environ, IReadOnlyList<string> loggedKeys)
    {
        _loggedKeys = loggedKeys;
        _glue = glue;
        _handle = handle;
        _app = app;
        _environ = environ;
    }

    /// <summary>
    /// Starts Python (unless the config file already did), loads the glue and imports the
    /// app. Returns without the GIL. <paramref name="headerMap"/>: which header names with '_'
    /// the environ takes (the worker's request rules); <paramref name="loggedKeys"/>: the environ
    /// entries the access log reads.
    /// </summary>
    public static WsgiRuntime Start(PythonInstallation python, IReadOnlyList<string> argv,
        IReadOnlyList<string> sysPath, IReadOnlyList<string> env, string appSpec, bool multithread, bool multiprocess, bool sendfile, bool spew,
        HeaderMap headerMap, IReadOnlyList<string> loggedKeys)
    {
        EmbeddedPython.Start(python);
        using var gil = Gil.Take();
        // On failure the interpreter is left as it is: the process exits next.
        var glue = EmbeddedPython.LoadModule("narwhal_wsgi.py", "narwhal_wsgi").Store();
        WsgiBridge.Install(glue);
        AppLoader.Setup(argv, sysPath, env);

        if (!sendfile)
            using (var off = Interop.Bool(false)) Interop.SetAttr(glue, "SENDFILE", off);
        var app = AppLoader.Import(appSpec);
        using var handler = Interop.GetAttr(glue, "handler");
        using var handle = Interop.Call(handler);
        var environ = new EnvironBuilder(glue, multithread, multiprocess, headerMap);
        return new WsgiRuntime(glue, spew ? Spew.Traced(handle).Store() : handle.Store(), app, environ, loggedKeys);
    }

    /// <summary>Runs one request through the app. The calling Python thread holds the GIL.</summary>
    public ExchangeOutcome Handle(Exchange exchange)
    {
        using var environ = _environ.Build(exchange);
        using var id = Interop.Long(exchange.Id);
        using var result = Interop.Call(_handle, _app, environ, id);
        if (_loggedKeys.Count > 0) exchange.EnvironAtoms = EnvironValues(environ, _loggedKeys);
        return (ExchangeOutcome)Interop.AsLong(result);
    }

    private PyStored? _environValues;
    private PyStored? _environKeys;

    /// <summary>The environ entries the access log format reads ({key}e atoms), after the app ran.</summary>
    private Dictionary<string, string> EnvironValues(PyBorrowed environ, IReadOnlyList<string> keys)
    {
        // The format is fixed for the worker's life: the function and the key list are made once.
        _environValues ??= Interop.GetAttr(_glue, "environ_values").Store();
        _environKeys ??= Interop.StrList(keys).Store();
        using var pairs = Interop.Call(_environValues, environ, _environKeys);
        var values = new Dictionary<string, string>();
        var n = Containers.Count(pairs);
        for (nint i = 0; i < n; i++)
        {
            var pair = Containers.Item(pairs, i);
            using var k = Containers.ItemOf(pair, 0);
            using var v = Containers.ItemOf(pair, 1);
            values[Interop.AsString(k) ?? ""] = Interop.AsString(v) ?? "";
        }
        return values;
    }

    /// <summary>Finalizes Python on the main thread, once no Python thread runs any more.</summary>
    public void Shutdown()
    {
        PythonLogging.FinalizeInterpreter();
    }
}
