using Narwhal.Posix;
using Narwhal.Python;
using Narwhal.Settings;

namespace Narwhal.Green;

/// <summary>
/// Monkey-patching for the green workers, first thing in the worker's interpreter, as
/// Gunicorn's gevent and eventlet workers patch before anything else runs in theirs: before
/// Narwhal's own Python modules, the config file and its hooks, and the app. The master names
/// the library in <see cref="Variable"/> for its workers only; the worker patches as its
/// interpreter starts, whichever part starts it (the config file, a Python logger, the app).
/// </summary>
internal static class GreenPatch
{
    public const string Variable = "NARWHAL_GREEN_PATCH";

    /// <summary>The library a green worker class runs on; null for the other workers.</summary>
    public static string? LibraryFor(Config config) =>
        CompatSettings.KindOf(config) is var kind and (WorkerKind.Gevent or WorkerKind.Eventlet) ? LibraryOf(kind) : null;

    /// <summary>The library of a green worker kind.</summary>
    public static string LibraryOf(WorkerKind kind) => kind == WorkerKind.Gevent ? "gevent" : "eventlet";

    /// <summary>The library the interpreter was patched with, once it was.</summary>
    public static string? Applied { get; private set; }

    /// <summary>Why patching failed (the library missing or broken), for the worker to exit with.</summary>
    public static string? Failure { get; private set; }

    /// <summary>Worker start: takes the master's word out of the environment (the app must not see it) and patches at the interpreter's start.</summary>
    public static void Arm()
    {
        var library = Environment.GetEnvironmentVariable(Variable);
        if (library == null) return;
        Environ.Unset(Variable);
        if (EmbeddedPython.IsStarted)
        {
            Failure = "the interpreter started before it could be patched";
            return;
        }
        EmbeddedPython.Started += () => Apply(library);
    }

    // GIL held, on the main thread: the thread whose hub will run the requests.
    private static void Apply(string library)
    {
        try
        {
            if (library == "gevent")
            {
                using var monkey = Interop.Import("gevent.monkey");
                using var patchAll = Interop.GetAttr(monkey, "patch_all");
                Interop.Call(patchAll).Dispose();
            }
            else
            {
                // Gunicorn's eventlet worker: the default hub, then every module patched.
                using var hubs = Interop.Import("eventlet.hubs");
                using (var useHub = Interop.GetAttr(hubs, "use_hub")) Interop.Call(useHub).Dispose();
                using var eventlet = Interop.Import("eventlet");
                using var patch = Interop.GetAttr(eventlet, "monkey_patch");
                Interop.Call(patch).Dispose();
            }
            Applied = library;
        }
        catch (PythonException e)
        {
            Failure = $"the {library} worker needs {library} in the app's Python ({e.TypeName}: {e.PythonMessage}); " +
                      $"install it (Debian: python3-{library}; pip install {library})";
        }
    }
}
