using System.Net.Security;
using System.Runtime.InteropServices;
using Narwhal.Http;
using Narwhal.Logging;
using Narwhal.Supervision;
using Narwhal.Posix;
using Narwhal.Python;
using Narwhal.Settings;
using Narwhal.Wsgi;

namespace Narwhal.Worker;

/// <summary>
/// One worker process, started by the master: drops privileges, loads the app into the
/// embedded interpreter, serves the inherited sockets with Kestrel, beats its heartbeat and
/// leaves gracefully (TERM, master gone, request past --timeout) or quickly (INT, QUIT).
/// </summary>
internal static partial class WorkerProcess
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(200);

    public static int Run(Config config, WorkerHandoff handoff)
    {
        var pid = Environment.ProcessId;
        ProcessTitle.Set($"worker [{ProcName.Of(config)}]");
        try
        {
            // As the master: --chdir first, so a relative log path names the master's file.
            Directory.SetCurrentDirectory(config.Get(ServerSettings.Chdir));
            LogSetup.Apply(config);
        }
        catch (ConfigException e)
        {
            ErrorLog.Error($"Can't set up logging: {e.Message}");
            return Program.ExitWorkerBootError;
        }
        ErrorLog.Info($"Booting worker with pid: {pid}");
        using var heartbeat = Heartbeat.Open(handoff.HeartbeatFd);
        using var signals = new StopSignals(LogSetup.Reopen);
        ConfigFile.Publish(config, handoff.MasterPid);
        WorkerHooks.Start(handoff.Age, handoff.MasterPid);
        WorkerHooks.Call("post_fork");

        try
        {
            Unix.SetOwner(Owner.Uid(config), Owner.Gid(config), config.Get(ProcessSettings.InitGroups));
        }
        catch (IOException e)
        {
            ErrorLog.Error($"Can't switch to user/group: {e.Message}");
            return Program.ExitWorkerBootError;
        }

        var threads = config.Get(ServerSettings.Threads);
        // Read once here, then handed to the edge, Kestrel, the exchanges and the environ.
        var rules = RequestRules.From(config);
        Metrics.RequestMetrics.Enabled = config.Get(LoggingSettings.MetricsBind).Length > 0;
        var recorder = RequestRecorder.FromLogging();
        var kind = CompatSettings.KindOf(config);
        if (kind != WorkerKind.Threads) return LoopWorker.Run(config, kind, handoff, heartbeat, signals, rules, recorder);
        if (TryLoadApp(config, rules, recorder.EnvironKeys, out var runtime) is var failed and not Program.ExitOk) return failed;
        WorkerHooks.Call("post_worker_init");

        var python = new PythonThreads(runtime, threads);
        var state = new WorkerStatus(heartbeat, TimeProvider.System, () => python.InFlight);
        python.RequestLimit = RequestLimit(config);
        python.RequestLimitReached = ReplaceAtLimit(state);

        var drain = new DrainSignal();
        if (CreateHost(config, handoff, rules, python) is not { } host) return Program.ExitWorkerBootError;
        using var reloader = config.Get(ProcessSettings.Reload) ? FileWatcher.Start(config, state.RequestReplacement) : null;
        python.Start();
        var admission = new Admission(drain, config.Get(SecuritySettings.BodyBufferSize), rules, recorder);
        host.StartAsync(new WsgiHttpApplication(python, admission), CancellationToken.None).GetAwaiter().GetResult();
        state.Set(WorkerState.Serving, python.Handled);

        var timeout = TimeSpan.FromSeconds(config.Get(ProcessSettings.Timeout));
        var stop = Serve(handoff, signals, python, state, timeout);

        drain.Set();
        host.StopAccepting(takeBacklog: stop != StopKind.TimedOut);
        if (stop == StopKind.TimedOut)
        {
            WorkerHooks.CallBounded("worker_abort", TimeSpan.FromSeconds(2));
            // The stuck request keeps its Python thread and its connection: wait for every
            // other connection to be answered, then leave without waiting for it.
            WaitForConnections(host, state, python, GraceDeadline(config), () => python.RunningLongerThan(timeout));
            ErrorLog.Info($"Worker exiting (pid: {pid})");
            WorkerHooks.CallBounded("worker_exit", TimeSpan.FromSeconds(2));
            _exit(1);
        }
        var quick = stop == StopKind.Quick;
        if (quick) WorkerHooks.Call("worker_int");
        if (!quick) WaitForConnections(host, state, python, GraceDeadline(config), () => 0);

        // Whatever is still open now is cut (quick stop, or past --graceful-timeout).
        using (var now = new CancellationTokenSource(quick ? TimeSpan.Zero : TimeSpan.FromSeconds(1)))
            host.StopAsync(now.Token).Wait(TimeSpan.FromSeconds(quick ? 0.5 : 2));
        var pythonIdle = python.Stop(TimeSpan.FromSeconds(quick ? 0.5 : 5));
        ErrorLog.Info($"Worker exiting (pid: {pid})");
        if (pythonIdle)
        {
            WorkerHooks.Call("worker_exit");
            host.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(1));
            runtime.Shutdown();
        }
        else
        {
            // A request still holds a Python thread (and maybe the GIL): the hook gets a bounded wait.
            WorkerHooks.CallBounded("worker_exit", TimeSpan.FromSeconds(1));
            ErrorLog.Warning("A request is still running in Python; exiting without finalizing the interpreter");
        }
        return Program.ExitOk;
    }

    /// <summary>Kestrel over the inherited sockets, with TLS when configured; null (logged) when the certificates cannot be used.</summary>
    internal static KestrelHost? CreateHost(Config config, WorkerHandoff handoff, RequestRules rules, IAcceptGate gate)
    {
        SslServerAuthenticationOptions? tls;
        try
        {
            tls = TlsSetup.From(config, TlsTranslation.CipherSuites);
        }
        catch (ConfigException e)
        {
            ErrorLog.Error(e.Message);
            return null;
        }
        return KestrelHost.Create(handoff.ListenerFds, config.Get(ServerSettings.KeepAlive), rules, tls,
            HttpVersions.Kestrel(config), HttpVersions.Tuning(config), EdgeOptions.From(config), gate,
            ErrorLog.Parse(config.Get(LoggingSettings.KestrelLogLevel)), OpenShares(handoff), handoff.ShareSlot);
    }

    /// <summary>
    /// The master's accept shares table, mapped for the life of this process (connection
    /// callbacks write to it until the very end); null without one, or if it cannot be mapped.
    /// </summary>
    private static AcceptShares? OpenShares(WorkerHandoff handoff)
    {
        if (handoff.SharesFd < 0 || handoff.ShareSlot < 0) return null;
        try
        {
            return AcceptShares.Open(handoff.SharesFd);
        }
        catch (IOException e)
        {
            ErrorLog.Warning($"Accepting without the other workers' counts: {e.Message}");
            return null;
        }
    }

    /// <summary>Beats the heartbeat until something ends the worker, and says what.</summary>
    private static StopKind Serve(WorkerHandoff handoff, StopSignals signals, PythonThreads python, WorkerStatus state, TimeSpan timeout)
    {
        while (true)
        {
            var signal = signals.Wait(Tick);
            if (signal != StopKind.None) return signal;
            if (Unix.ParentPid() != handoff.MasterPid)
            {
                ErrorLog.Info($"Parent changed, shutting down: worker {Environment.ProcessId}");
                return StopKind.Graceful;
            }
            if (timeout > TimeSpan.Zero
                && python.OldestRunning(timeout) is var (exchange, age))
            {
                ErrorLog.Error($"Request {exchange.Method} {exchange.RawTarget} has run for {age.TotalSeconds:0.0} s, past the {timeout.TotalSeconds:0} s timeout: " +
                    "this worker stops accepting, finishes its other requests, then exits");
                state.Set(WorkerState.TimedOut, python.Handled);
                return StopKind.TimedOut;
            }
            state.Beat(python.Handled);
        }
    }

    /// <summary>Keeps beating while connections other than <paramref name="stuck"/> ones are open, up to the deadline.</summary>
    private static void WaitForConnections(KestrelHost host, WorkerStatus state, PythonThreads python, Deadline deadline, Func<int> stuck)
    {
        while (host.OpenConnections > stuck() && !deadline.HasPassed(TimeProvider.System))
        {
            state.Beat(python.Handled);
            Thread.Sleep(50);
        }
    }

    internal static Deadline GraceDeadline(Config config) =>
        Deadline.After(TimeSpan.FromSeconds(config.Get(ProcessSettings.GracefulTimeout)), TimeProvider.System);

    /// <summary>What loading the app needs, the same for every protocol: the interpreter, sys.path and sys.argv, after raw_env and --chdir.</summary>
    internal static (PythonInstallation Python, List<string> SysPath, List<string> Argv) AppEnvironment(Config config)
    {
        Environ.Apply(config.Get(ServerSettings.RawEnv));
        var chdir = config.Get(ServerSettings.Chdir);
        Directory.SetCurrentDirectory(chdir);
        // The interpreter the config file (or Python logging) already started, if any.
        var python = EmbeddedPython.Installation ?? PythonInstallation.Find(NullIfEmpty(config.Get(ServerSettings.Python)));
        var sysPath = new List<string> { chdir };
        sysPath.AddRange(config.Get(ServerSettings.PythonPath).Select(Path.GetFullPath));
        return (python, sysPath, ["narwhal", .. Environment.GetCommandLineArgs().Skip(1)]);
    }

    private static WsgiRuntime LoadApp(Config config, RequestRules rules, IReadOnlyList<string> loggedKeys)
    {
        var (python, sysPath, argv) = AppEnvironment(config);
        var threads = config.Get(ServerSettings.Threads);
        return WsgiRuntime.Start(python, argv, sysPath,
            config.Get(ServerSettings.RawEnv), config.Get(ServerSettings.WsgiApp), multithread: threads > 1,
            multiprocess: config.Get(ProcessSettings.Workers) > 1, sendfile: config.Get(CompatSettings.Sendfile), spew: config.Get(ConfigFileSettings.Spew),
            headerMap: rules.HeaderMap, loggedKeys: loggedKeys);
    }

    /// <summary>--check-config and --print-config: the app must load; exit 0, or 1 with the reason.</summary>
    public static int CheckConfig(Config config)
    {
        if (config.Get(ServerSettings.WsgiApp).Length == 0)
        {
            Console.Error.WriteLine("\nError: No application module specified.");
            return Program.ExitError;
        }
        var code = TryLoadApp(config, RequestRules.From(config), [], out var runtime);
        if (code != Program.ExitOk)
        {
            Console.Error.WriteLine("\nError while loading the application (see above).");
            return Program.ExitError;
        }
        runtime.Shutdown();
        return Program.ExitOk;
    }

    /// <summary>--preload: loads the app once in a throwaway process; the exit code says whether it loads.</summary>
    public static int CheckApp(Config config)
    {
        var code = TryLoadApp(config, RequestRules.From(config), [], out var runtime);
        runtime?.Shutdown();
        return code;
    }

    /// <summary>Loads the app; on failure logs why and gives Gunicorn's exit code (3 no usable Python, 4 app load).</summary>
    private static int TryLoadApp(Config config, RequestRules rules, IReadOnlyList<string> loggedKeys, out WsgiRuntime runtime)
    {
        runtime = null!;
        try
        {
            runtime = LoadApp(config, rules, loggedKeys);
            return Program.ExitOk;
        }
        catch (Exception e) when (e is PythonNotUsableException or AppLoadException)
        {
            return AppLoadFailed(e);
        }
    }

    /// <summary>Logs why the app could not load; Gunicorn's exit code (3 no usable Python, 4 app load).</summary>
    internal static int AppLoadFailed(Exception e)
    {
        if (e is AppLoadException { Traceback: { } traceback }) ErrorLog.Error($"Exception in worker process\n{traceback}");
        ErrorLog.Error(e.Message);
        return e is PythonNotUsableException ? Program.ExitWorkerBootError : Program.ExitAppLoadError;
    }

    /// <summary>--max-requests with its jitter, drawn once for this worker; 0 for no limit.</summary>
    internal static long RequestLimit(Config config)
    {
        var max = config.Get(ProcessSettings.MaxRequests);
        return max > 0 ? max + Random.Shared.Next(0, config.Get(ProcessSettings.MaxRequestsJitter) + 1) : 0;
    }

    /// <summary>What a worker does on reaching its request limit: asks the master for its replacement.</summary>
    internal static Action ReplaceAtLimit(WorkerStatus state) => () =>
    {
        ErrorLog.Info("Autorestarting worker after current request.");
        state.RequestReplacement();
    };

    private static string? NullIfEmpty(string s) => s.Length == 0 ? null : s;

    [LibraryImport("libc")]
    internal static partial void _exit(int status);
}
