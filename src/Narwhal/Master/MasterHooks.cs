using Narwhal.Logging;
using Narwhal.Python;
using Narwhal.Settings;

namespace Narwhal.Master;

/// <summary>
/// The master-side server hooks (on_starting, on_reload, when_ready, pre_fork, pre_exec,
/// child_exit, nworkers_changed, on_exit), called in the master's embedded interpreter with
/// an arbiter object that shows the current workers. The master has an interpreter only when
/// the config file (or a Python logger) needed one; without it there are no hooks to call.
/// </summary>
internal static class MasterHooks
{
    /// <param name="workers">(pid, age) of every worker now.</param>
    public static void Call(string name, IEnumerable<(int Pid, int Age)> workers, int numWorkers, IEnumerable<string> listeners,
        long? arg1 = null, long? arg2 = null)
    {
        var glue = ConfigFile.Glue;
        if (glue.IsNull) return;
        try
        {
            using var gil = Gil.Take();
            using var fn = Interop.GetAttr(glue, "master_hook");
            using var n = Interop.Str(name);
            using var list = Containers.List();
            foreach (var (pid, age) in workers)
            {
                using var p = Interop.Long(pid);
                using var a = Interop.Long(age);
                using var pair = Containers.Tuple(p, a);
                Containers.Append(list, pair);
            }
            using var count = Interop.Long(numWorkers);
            using var addresses = Interop.StrList(listeners.ToList());
            using var a1 = arg1 is { } v1 ? Interop.Long(v1) : Interop.NewNone();
            using var a2 = arg2 is { } v2 ? Interop.Long(v2) : Interop.NewNone();
            Interop.Call(fn, n, list, count, addresses, a1, a2).Dispose();
        }
        catch (PythonException e)
        {
            ErrorLog.Exception($"Exception in {name} hook\n{e.PythonTraceback}");
        }
    }
}
