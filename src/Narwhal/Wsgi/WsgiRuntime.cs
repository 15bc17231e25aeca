using System.Text;
using Narwhal.Http;
using Narwhal.Logging;
using Narwhal.Python;

namespace Narwhal.Wsgi;

/// <summary>What <c>handle()</c> in the glue reports.</summary>
internal enum WsgiOutcome { Done = 0, Abort = 1, Fail = 2 }

/// <summary>The app spec did not lead to a WSGI callable (Gunicorn's APP_LOAD_ERROR, exit code 4).</summary>
internal sealed class AppLoadException(string message) : Exception(message);

/// <summary>
/// The embedded interpreter with the glue module and the user's app loaded. Created and
/// finalized on the main thread; requests run on <see cref="PythonThreads"/>.
/// </summary>
internal sealed class WsgiRuntime
{
    private readonly PyRef _glue;
    private readonly PyRef _handle;
    private readonly PyRef _app;
    private readonly EnvironBuilder _environ;

    private WsgiRuntime(PyRef glue, PyRef handle, PyRef app, EnvironBuilder environ)
    {
        _glue = glue;
        _handle = handle;
        _app = app;
        _environ = environ;
    }

    /// <summary>
    /// Starts Python (unless the config file already did), loads the glue and imports the
    /// app. Returns without the GIL. <paramref name="headerMap"/>: which header names with '_'
    /// the environ takes (the worker's request rules).
    /// </summary>
    public static WsgiRuntime Start(PythonInstallation python, IReadOnlyList<string> argv,
        IReadOnlyList<string> sysPath, IReadOnlyList<string> env, string appSpec, bool multithread, bool multiprocess, bool sendfile, bool spew,
        HeaderMap headerMap)
    {
        EmbeddedPython.Start(python);
        using var gil = EmbeddedPython.Acquire();
        // On failure the interpreter is left as it is: the process exits next.
        var glue = EmbeddedPython.LoadModule("narwhal_wsgi.py", "narwhal_wsgi");
        WsgiBridge.Install(glue.Handle);
        using (var setup = Interop.GetAttr(glue.Handle, "setup"))
        using (var argvList = Interop.StrList(argv))
        using (var pathList = Interop.StrList(sysPath))
        using (var envList = Interop.StrList(env))
            Interop.Call(setup.Handle, argvList.Handle, pathList.Handle, envList.Handle).Dispose();

        if (!sendfile)
            using (var off = Interop.Bool(false)) Interop.SetAttr(glue.Handle, "SENDFILE", off.Handle);
        if (spew)
            using (var on = Interop.Bool(true)) Interop.SetAttr(glue.Handle, "SPEW", on.Handle);
        var app = ImportApp(glue.Handle, appSpec);
        PyRef handle;
        using (var handler = Interop.GetAttr(glue.Handle, "handler")) handle = Interop.Call(handler.Handle);
        var environ = new EnvironBuilder(glue.Handle, multithread, multiprocess, headerMap);
        return new WsgiRuntime(glue, handle, app, environ);
    }

    private static PyRef ImportApp(nint glue, string spec)
    {
        using var importApp = Interop.GetAttr(glue, "import_app");
        using var specStr = Interop.Str(spec);
        try
        {
            return Interop.Call(importApp.Handle, specStr.Handle);
        }
        catch (PythonException e) when (e.TypeName == "AppImportError")
        {
            throw new AppLoadException(e.PythonMessage);
        }
        catch (PythonException e)
        {
            // An error inside the app's own code: its traceback is what the user needs.
            ErrorLog.Error($"Exception in worker process\n{e.PythonTraceback}");
            throw new AppLoadException($"{e.TypeName}: {e.PythonMessage}");
        }
    }

    /// <summary>Runs one request through the app. The calling Python thread holds the GIL.</summary>
    public WsgiOutcome Handle(WsgiExchange exchange)
    {
        using var environ = _environ.Build(exchange);
        using var id = Interop.Long(exchange.Id);
        using var result = Interop.Call(_handle.Handle, _app.Handle, environ.Handle, id.Handle);
        if (Logging.AccessLog.Current is { Format.EnvironKeys.Count: > 0 } access)
            exchange.EnvironAtoms = EnvironValues(environ.Handle, access.Format.EnvironKeys);
        return (WsgiOutcome)Native.PyLong_AsLongLong(result.Handle);
    }

    private PyRef _environValues;
    private PyRef _environKeys;

    /// <summary>The environ entries the access log format reads ({key}e atoms), after the app ran.</summary>
    private Dictionary<string, string> EnvironValues(nint environ, IReadOnlyList<string> keys)
    {
        if (_environValues.IsNull)
        {
            // The format is fixed for the worker's life: the function and the key list are made once.
            _environValues = Interop.GetAttr(_glue.Handle, "environ_values");
            _environKeys = Interop.StrList(keys);
        }
        using var pairs = Interop.Call(_environValues.Handle, environ, _environKeys.Handle);
        var values = new Dictionary<string, string>();
        var n = Native.PyList_Size(pairs.Handle);
        for (nint i = 0; i < n; i++)
        {
            var pair = Native.PyList_GetItem(pairs.Handle, i);
            using var k = PyRef.Own(Native.PySequence_GetItem(pair, 0));
            using var v = PyRef.Own(Native.PySequence_GetItem(pair, 1));
            values[Interop.AsString(k.Handle) ?? ""] = Interop.AsString(v.Handle) ?? "";
        }
        return values;
    }

    /// <summary>The source files of the app's modules (for --reload), from any thread: takes the GIL for the call.</summary>
    public List<string> SourceFiles()
    {
        var gil = Native.PyGILState_Ensure();
        try
        {
            using var fn = Interop.GetAttr(_glue.Handle, "source_files");
            using var list = Interop.Call(fn.Handle);
            var files = new List<string>();
            var n = Native.PyList_Size(list.Handle);
            for (nint i = 0; i < n; i++)
                if (Interop.AsString(Native.PyList_GetItem(list.Handle, i)) is { } path) files.Add(path);
            return files;
        }
        finally
        {
            Native.PyGILState_Release(gil);
        }
    }

    /// <summary>
    /// The TLS cipher suites (IANA numbers) an OpenSSL cipher string selects, as the user's
    /// Python ssl module reads it: Gunicorn's --ciphers, for .NET's CipherSuitesPolicy.
    /// Throws <see cref="PythonException"/> for a string that selects nothing.
    /// </summary>
    public List<int> CipherSuites(string spec)
    {
        var gil = Native.PyGILState_Ensure();
        try
        {
            using var fn = Interop.GetAttr(_glue.Handle, "cipher_suites");
            using var arg = Interop.Str(spec);
            using var result = Interop.Call(fn.Handle, arg.Handle);
            var text = Interop.AsString(result.Handle) ?? "";
            return text.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToList();
        }
        finally
        {
            Native.PyGILState_Release(gil);
        }
    }

    /// <summary>Finalizes Python on the main thread, once no Python thread runs any more.</summary>
    public void Shutdown()
    {
        // From here on a Python logger is gone: late lines (Kestrel) go to the native log.
        ErrorLog.Python = null;
        var code = EmbeddedPython.Finalize();
        if (code != 0) ErrorLog.Warning("Python finalization reported an error (exit hooks or buffered output)");
    }
}
