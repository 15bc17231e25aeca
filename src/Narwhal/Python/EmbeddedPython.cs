using System.Text;

namespace Narwhal.Python;

/// <summary>
/// The one embedded interpreter of this process, started on first need: by the config file
/// (master and workers), by a Python logger, or by the app (workers). Between calls no
/// thread holds the GIL; every entry takes it through <see cref="Gil"/>.
/// </summary>
internal static unsafe class EmbeddedPython
{
    public static PythonInstallation? Installation { get; private set; }

    public static bool IsStarted => Installation != null;

    /// <summary>
    /// Runs once, right after the interpreter starts, with the GIL held, before any other
    /// Python code: for what a part above Python/ must set up first (Logging's line-buffered
    /// stdio under --capture-output).
    /// </summary>
    public static event Action? Started;

    /// <summary>Loads the libpython of <paramref name="python"/> and initializes it (once); returns without the GIL.</summary>
    public static void Start(PythonInstallation python)
    {
        if (Installation != null) return;
        PythonLibrary.Load(python.LibPython);
        // The program name makes Python compute sys.prefix, sys.executable and a
        // virtualenv's site-packages exactly as the interpreter itself would.
        var exe = Encoding.UTF8.GetBytes(python.Executable + "\0");
        fixed (byte* p = exe) Native.Py_SetProgramName(Native.Py_DecodeLocale(p, null));
        // 0: Python must not install signal handlers; the server owns signals.
        Native.Py_InitializeEx(0);
        Installation = python;
        Started?.Invoke();
        Started = null;
        Gil.LeaveMainThread();
    }

    /// <summary>Runs one of Narwhal's Python sources (an embedded resource) as module <paramref name="name"/>. Hold the GIL.</summary>
    public static PyOwned LoadModule(string resource, string name)
    {
        using var stream = typeof(EmbeddedPython).Assembly.GetManifestResourceStream(resource)!;
        using var reader = new StreamReader(stream);
        var source = Encoding.UTF8.GetBytes(reader.ReadToEnd() + "\0");
        var filename = Encoding.UTF8.GetBytes($"<narwhal>/{resource}\0");
        var moduleName = Encoding.UTF8.GetBytes(name + "\0");
        fixed (byte* src = source)
        fixed (byte* fn = filename)
        fixed (byte* n = moduleName)
        {
            using var code = PyOwned.Own(Native.Py_CompileString(src, fn, Native.FileInput));
            return PyOwned.Own(Native.PyImport_ExecCodeModuleEx(n, code.Borrowed.Handle, fn));
        }
    }

    /// <summary>Finalizes Python on the main thread, once no other thread runs Python. Returns Py_FinalizeEx's result.</summary>
    public static int Finalize()
    {
        if (Installation == null) return 0;
        Gil.ReturnToMainThread();
        Installation = null;
        return Native.Py_FinalizeEx();
    }
}
