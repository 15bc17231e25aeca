using Narwhal.Logging;
using Narwhal.Loop;
using Narwhal.Python;
using Narwhal.Settings;

namespace Narwhal.Worker;

/// <summary>
/// The worker-side server hooks (post_fork, post_worker_init, worker_int, worker_abort,
/// worker_exit), called in this worker's interpreter with the worker object Gunicorn passes.
/// A no-op where no config file started Python before the app.
/// </summary>
internal static class WorkerHooks
{
    private static bool _active;

    /// <summary>Creates this process's worker object; call once the configuration is published.</summary>
    public static void Start(int age, int masterPid)
    {
        var glue = ConfigFile.Glue;
        if (glue.IsNull) return;
        using var gil = Gil.Take();
        using var start = Interop.GetAttr(glue, "start_worker");
        using var a = Interop.Long(age);
        using var m = Interop.Long(masterPid);
        Interop.Call(start, a, m).Dispose();
        _active = true;
    }

    /// <summary>Calls the hook; a failing hook is logged with its traceback by the glue and never stops the worker.</summary>
    public static void Call(string name)
    {
        if (!_active) return;
        try
        {
            using var gil = Gil.Take();
            using var fn = Interop.GetAttr(ConfigFile.Glue, "worker_hook");
            using var n = Interop.Str(name);
            Interop.Call(fn, n).Dispose();
        }
        catch (PythonException e)
        {
            ErrorLog.Exception($"Exception in {name} hook\n{e.PythonTraceback}");
        }
    }

    /// <summary>
    /// Calls the hook on the worker's event loop (in a task or greenlet of its own, where
    /// it may block cooperatively), waiting up to <paramref name="limit"/>; directly, bounded,
    /// when the loop does not serve.
    /// </summary>
    public static void CallOnLoop(LoopServer server, string name, TimeSpan limit)
    {
        if (!_active) return;
        var call = new LoopCall(() =>
        {
            using var n = Interop.Str(name);
            return (Interop.GetAttr(ConfigFile.Glue, "worker_hook").Store(), Containers.Tuple(n).Store());
        });
        if (!server.Post(call))
        {
            CallBounded(name, limit);
            return;
        }
        if (!call.Wait(limit)) ErrorLog.Warning($"The {name} hook did not return within {limit.TotalSeconds:0} s; going on without it");
    }

    /// <summary>
    /// Calls the hook without waiting more than <paramref name="limit"/>: worker_abort runs
    /// while a request is stuck, possibly in C code that holds the GIL.
    /// </summary>
    public static void CallBounded(string name, TimeSpan limit)
    {
        if (!_active) return;
        var call = Task.Run(() => Call(name));
        if (!call.Wait(limit)) ErrorLog.Warning($"The {name} hook did not return within {limit.TotalSeconds:0} s; exiting without it");
    }
}
