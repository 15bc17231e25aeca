namespace Narwhal.Settings;

/// <summary>
/// Gunicorn's server hooks. Each is a Python callable from the config file (or a dotted
/// path to one); the value here is its name, for --print-config. The callable itself lives
/// in the interpreter of the process that calls it: master hooks in the master's, worker
/// hooks in each worker's.
/// </summary>
internal static class HookSettings
{
    /// <summary>Every hook by name, with the number of arguments Gunicorn calls it with (post_request takes 2 to 4).</summary>
    public static readonly Dictionary<string, int> Arity = [];

    private static Setting<string> Hook(string name, int arity, string desc, string? narwhal = null)
    {
        Arity[name] = arity;
        return SettingsRegistry.Add(new Setting<string>
        {
            Name = name, Section = Sections.Hooks, Default = () => "", DefaultDoc = $"<{name}()> (does nothing)",
            // As Gunicorn prints callables: <qualname()>.
            Display = v => v.Length > 0 ? $"<{v.Split('.').Last()}()>" : $"<{name}()>",
            Validate = raw => raw.Trim(), AcceptsStructured = true, Desc = desc, Narwhal = narwhal,
        });
    }

    public static readonly Setting<string> OnStarting = Hook("on_starting", 1,
        "Called just before the master process is initialized, with the arbiter.");
    public static readonly Setting<string> OnReload = Hook("on_reload", 1,
        "Called to recycle workers during a reload via SIGHUP, with the arbiter.");
    public static readonly Setting<string> WhenReady = Hook("when_ready", 1,
        "Called just after the server is started (sockets bound), with the arbiter.");
    public static readonly Setting<string> PreFork = Hook("pre_fork", 2,
        "Called in the master just before a worker is started, with the arbiter and the new worker.",
        "Workers are new processes, not forks; the worker's pid is not known yet (None).");
    public static readonly Setting<string> PostFork = Hook("post_fork", 2,
        "Called in the worker just after it started, before it drops privileges and loads the app, with the server and the worker.",
        "Runs in the worker's own interpreter; 'server' there is a view of the master (pid, cfg, log), not the master itself.");
    public static readonly Setting<string> PostWorkerInit = Hook("post_worker_init", 1,
        "Called in the worker just after it loaded the app, with the worker.");
    public static readonly Setting<string> WorkerInt = Hook("worker_int", 1,
        "Called in the worker when it is stopped by SIGINT or SIGQUIT, with the worker.");
    public static readonly Setting<string> WorkerAbort = Hook("worker_abort", 1,
        "Called in the worker when a request ran past --timeout, with the worker.",
        "Gunicorn's master sends SIGABRT on timeout; Narwhal's worker notices the timeout itself and calls the hook before leaving.");
    public static readonly Setting<string> PreExec = Hook("pre_exec", 1,
        "Called in the master just before it starts a new master (USR2), with the arbiter.");
    public static readonly Setting<string> PreRequest = Hook("pre_request", 2,
        "Called in the worker just before a request goes to the app, with the worker and the request.");
    public static readonly Setting<string> PostRequest = Hook("post_request", 4,
        "Called in the worker after a request was answered, with the worker, the request, the environ and the response (2 to 4 arguments).");
    public static readonly Setting<string> ChildExit = Hook("child_exit", 2,
        "Called in the master just after a worker exited, with the arbiter and the worker.");
    public static readonly Setting<string> WorkerExit = Hook("worker_exit", 2,
        "Called in the worker just before it exits, with the server and the worker.");
    public static readonly Setting<string> NworkersChanged = Hook("nworkers_changed", 3,
        "Called in the master when the number of workers changed, with the arbiter, the new and the old number (None the first time).");
    public static readonly Setting<string> OnExit = Hook("on_exit", 1,
        "Called in the master just before it exits, with the arbiter.");
    public static readonly Setting<string> SslContext = Hook("ssl_context", 2,
        "Called when a TLS context is needed, with the config and a factory of the default context; returns the context.",
        "Called in each worker with certfile set, as in Gunicorn. The returned context is read back for .NET's TLS: the certificate chain " +
        "it loaded (no key password), verify_mode, CA files (cafile, or the system's), minimum/maximum version (1.2 at least) and ciphers; " +
        "other options (ALPN, SNI callbacks, capath/cadata) are not carried over.");

    // Dirty arbiter hooks (Gunicorn 25): called only with dirty_apps, which Narwhal refuses.
    public static readonly Setting<string> OnDirtyStarting = Hook("on_dirty_starting", 1,
        "Called just before the dirty arbiter starts, with the dirty arbiter.", "Never called: Narwhal has no dirty arbiters.");
    public static readonly Setting<string> DirtyPostFork = Hook("dirty_post_fork", 2,
        "Called just after a dirty worker started, with the dirty arbiter and the dirty worker.", "Never called: Narwhal has no dirty arbiters.");
    public static readonly Setting<string> DirtyWorkerInit = Hook("dirty_worker_init", 1,
        "Called when a dirty worker has loaded its apps, with the dirty worker.", "Never called: Narwhal has no dirty arbiters.");
    public static readonly Setting<string> DirtyWorkerExit = Hook("dirty_worker_exit", 2,
        "Called when a dirty worker exits, with the dirty arbiter and the dirty worker.", "Never called: Narwhal has no dirty arbiters.");

    static HookSettings() { }

    public static void Register() { }
}
