using System.Text;
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
    private nint _mainThreadState;

    private WsgiRuntime(PyRef glue, PyRef handle, PyRef app, EnvironBuilder environ)
    {
        _glue = glue;
        _handle = handle;
        _app = app;
        _environ = environ;
    }

    /// <summary>
    /// Starts Python, loads the glue and imports the app. On return the main thread no
    /// longer holds the GIL.
    /// </summary>
    public static unsafe WsgiRuntime Start(PythonInstallation python, IReadOnlyList<string> argv,
        IReadOnlyList<string> sysPath, string appSpec, bool multithread, bool multiprocess)
    {
        PythonLibrary.Load(python.LibPython);

        // The program name makes Python compute sys.prefix, sys.executable and a
        // virtualenv's site-packages exactly as the interpreter itself would.
        var exe = Encoding.UTF8.GetBytes(python.Executable + "\0");
        fixed (byte* p = exe) Native.Py_SetProgramName(Native.Py_DecodeLocale(p, null));
        // 0: Python must not install signal handlers; the server owns signals.
        Native.Py_InitializeEx(0);

        // On failure the interpreter is left as it is: the process exits next.
        var glue = LoadGlue();
        WsgiBridge.Install(glue.Handle);
        using (var setup = Interop.GetAttr(glue.Handle, "setup"))
        using (var argvList = StrList(argv))
        using (var pathList = StrList(sysPath))
            Interop.Call(setup.Handle, argvList.Handle, pathList.Handle).Dispose();

        var app = ImportApp(glue.Handle, appSpec);
        var handle = Interop.GetAttr(glue.Handle, "handle");
        var environ = new EnvironBuilder(glue.Handle, multithread, multiprocess);
        var runtime = new WsgiRuntime(glue, handle, app, environ);
        runtime._mainThreadState = Native.PyEval_SaveThread();
        return runtime;
    }

    private static unsafe PyRef LoadGlue()
    {
        using var stream = typeof(WsgiRuntime).Assembly.GetManifestResourceStream("narwhal_wsgi.py")!;
        using var reader = new StreamReader(stream);
        var source = Encoding.UTF8.GetBytes(reader.ReadToEnd() + "\0");
        var filename = "<narwhal>/narwhal_wsgi.py\0"u8;
        var name = "narwhal_wsgi\0"u8;
        fixed (byte* src = source)
        fixed (byte* fn = filename)
        fixed (byte* n = name)
        {
            using var code = PyRef.Own(Native.Py_CompileString(src, fn, Native.FileInput));
            return PyRef.Own(Native.PyImport_ExecCodeModuleEx(n, code.Handle, fn));
        }
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

    private static PyRef StrList(IReadOnlyList<string> items)
    {
        var list = PyRef.Own(Native.PyList_New(0));
        foreach (var item in items)
        {
            using var s = Interop.Str(item);
            if (Native.PyList_Append(list.Handle, s.Handle) != 0) throw PythonException.Fetch();
        }
        return list;
    }

    /// <summary>Runs one request through the app. The calling Python thread holds the GIL.</summary>
    public WsgiOutcome Handle(WsgiExchange exchange)
    {
        using var environ = _environ.Build(exchange);
        using var id = Interop.Long(exchange.Id);
        using var result = Interop.Call(_handle.Handle, _app.Handle, environ.Handle, id.Handle);
        return (WsgiOutcome)Native.PyLong_AsLongLong(result.Handle);
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

    /// <summary>Finalizes Python on the main thread, once no Python thread runs any more.</summary>
    public void Shutdown()
    {
        Native.PyEval_RestoreThread(_mainThreadState);
        var code = Native.Py_FinalizeEx();
        if (code != 0) ErrorLog.Warning("Python finalization reported an error (exit hooks or buffered output)");
    }
}
