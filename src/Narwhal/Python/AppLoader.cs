namespace Narwhal.Python;

/// <summary>
/// The app spec did not lead to an app callable (Gunicorn's APP_LOAD_ERROR, exit code 4).
/// <see cref="Traceback"/>: the Python traceback when the app's own code raised, for the
/// error log (Python/ does not log: it sits below Logging/).
/// </summary>
internal sealed class AppLoadException(string message, string? traceback = null) : Exception(message)
{
    public string? Traceback { get; } = traceback;
}

/// <summary>
/// Loads the user's app as Gunicorn does (narwhal_app.py): sys.argv, sys.path and raw_env
/// first, then MODULE, MODULE:NAME or MODULE:FACTORY(literal args). The same for every
/// protocol; the protocol's glue decides how the object is called. Hold the GIL.
/// </summary>
internal static class AppLoader
{
    private static readonly EmbeddedModule Module = new("narwhal_app.py", "narwhal_app");

    /// <summary>Gunicorn's sys.path (the app's directory, then --pythonpath), sys.argv, and raw_env in os.environ.</summary>
    public static void Setup(IReadOnlyList<string> argv, IReadOnlyList<string> sysPath, IReadOnlyList<string> env)
    {
        using var argvList = Interop.StrList(argv);
        using var pathList = Interop.StrList(sysPath);
        using var envList = Interop.StrList(env);
        Module.Call("setup", argvList, pathList, envList).Dispose();
    }

    /// <summary>The app object; <see cref="AppLoadException"/> when the spec does not lead to one.</summary>
    public static PyStored Import(string spec)
    {
        using var specStr = Interop.Str(spec);
        try
        {
            return Module.Call("import_app", specStr).Store();
        }
        catch (PythonException e) when (e.TypeName == "AppImportError")
        {
            throw new AppLoadException(e.PythonMessage);
        }
        catch (PythonException e)
        {
            // An error inside the app's own code: its traceback is what the user needs.
            throw new AppLoadException($"{e.TypeName}: {e.PythonMessage}", e.PythonTraceback);
        }
    }
}
