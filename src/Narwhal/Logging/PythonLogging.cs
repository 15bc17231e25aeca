using Narwhal.Python;
using Narwhal.Settings;

namespace Narwhal.Logging;

/// <summary>
/// Hands the error and access logs to a Python logger when the settings ask for Python's
/// logging (--log-config, --log-config-json, logconfig_dict, --logger-class): the only way
/// their handlers, formatters and subclasses can behave as they do under Gunicorn. The
/// native logs stay the default; nothing here runs otherwise.
/// </summary>
internal static class PythonLogging
{
    private static readonly EmbeddedModule Module = new("narwhal_logging.py", "narwhal_logging");
    private static PyStored? _logger;
    private static PyStored? _emit;

    public static bool Wanted(Config config) =>
        config.Get(LoggingSettings.LogConfig).Length > 0
        || config.Get(LoggingSettings.LogConfigJson).Length > 0
        || config.Get(LoggingSettings.LogConfigDict) is not ("{}" or "")
        || config.Get(LoggingSettings.LoggerClass) is not (LoggingSettings.DefaultLoggerClass or "simple");

    /// <summary>Builds this process's Python logger and routes the logs through it.</summary>
    public static void Setup(Config config)
    {
        if (!Wanted(config)) return;
        var python = config.Get(ServerSettings.Python);
        try
        {
            EmbeddedPython.Start(EmbeddedPython.Installation ?? PythonInstallation.Find(python.Length == 0 ? null : python));
        }
        catch (PythonNotUsableException e)
        {
            throw new ConfigException($"Python logging (logconfig, logger_class) needs the app's interpreter: {e.Message}");
        }
        var glue = ConfigFile.Glue;
        ConfigFile.Publish(config, Environment.ProcessId);
        using var gil = Gil.Take();
        _emit ??= Interop.GetAttr(Module.Get(), "emit").Store();
        using var create = Interop.GetAttr(Module.Get(), "create");
        using var cfgObject = Interop.GetAttr(glue, "_cfg");
        using var className = Interop.Str(config.Get(LoggingSettings.LoggerClass));
        using var getObject = Interop.GetAttr(glue, "setting_object");
        using var settingName = Interop.Str(LoggingSettings.LoggerClass.Name);
        using var classObject = Interop.Call(getObject, settingName);
        var chdir = config.Get(ServerSettings.Chdir);
        using var paths = Interop.StrList([chdir, .. config.Get(ServerSettings.PythonPath).Select(p => Path.GetFullPath(p, chdir))]);
        PyStored logger;
        try
        {
            logger = Interop.Call(create, cfgObject, className, classObject, paths).Store();
        }
        catch (PythonException e)
        {
            throw new ConfigException($"Python logging could not be set up: {e.TypeName}: {e.PythonMessage}\n{e.PythonTraceback}");
        }
        _logger?.Dispose();
        _logger = logger;
        using (var setLogger = Interop.GetAttr(glue, "set_logger"))
            Interop.Call(setLogger, _logger).Dispose();
        // The Python logger writes the access log itself, from the request hook wrapper.
        AccessLog.Current = null;
        ErrorLog.Python = Emit;
    }

    /// <summary>
    /// Set by a worker whose interpreter belongs to one thread while it serves (the green
    /// workers' hub: the patched logging module's locks are the hub's): has that thread run
    /// the call; false when it cannot now, and the caller calls Python itself.
    /// </summary>
    public static Func<Func<(PyStored Fn, PyStored Args)>, bool>? Marshal { get; set; }

    private static bool Emit(LogLevel level, string message)
    {
        if (Marshal is { } marshal && marshal(() => EmitCall(level, message))) return true;
        try
        {
            using var gil = Gil.Take();
            using var l = Interop.Long((int)level);
            using var m = Interop.Str(message);
            Interop.Call(_emit!, _logger!, l, m).Dispose();
            return true;
        }
        catch (PythonException)
        {
            return false; // the native log gets it instead
        }
    }

    /// <summary>The call that writes one line through the Python logger (GIL held), for <see cref="Marshal"/>.</summary>
    private static (PyStored Fn, PyStored Args) EmitCall(LogLevel level, string message)
    {
        using var l = Interop.Long((int)level);
        using var m = Interop.Str(message);
        return (PyOwned.IncRef(_emit!).Store(), Containers.Tuple(_logger!, l, m).Store());
    }

    /// <summary>
    /// Finalizes the interpreter on the main thread once no other thread runs Python (the
    /// end of every worker): a Python logger is gone from here on, so late lines (Kestrel's)
    /// go to the native log.
    /// </summary>
    public static void FinalizeInterpreter()
    {
        ErrorLog.Python = null;
        var code = EmbeddedPython.Finalize();
        if (code != 0) ErrorLog.Warning("Python finalization reported an error (exit hooks or buffered output)");
    }

    /// <summary>USR1: the Python logger reopens its file handlers.</summary>
    public static void Reopen()
    {
        if (_logger == null) return;
        if (Marshal is { } marshal && marshal(() => (Interop.GetAttr(_logger, "reopen_files").Store(), Containers.Tuple().Store()))) return;
        try
        {
            using var gil = Gil.Take();
            using var reopen = Interop.GetAttr(_logger, "reopen_files");
            Interop.Call(reopen).Dispose();
        }
        catch (PythonException e)
        {
            ErrorLog.Error($"Reopening the Python log handlers failed: {e.PythonMessage}");
        }
    }
}
