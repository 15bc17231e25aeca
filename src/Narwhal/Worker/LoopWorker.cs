using Narwhal.Asgi;
using Narwhal.Green;
using Narwhal.Http;
using Narwhal.Logging;
using Narwhal.Loop;
using Narwhal.Posix;
using Narwhal.Python;
using Narwhal.Settings;
using Narwhal.Supervision;
using Narwhal.Tornado;

namespace Narwhal.Worker;

/// <summary>
/// The life of a worker that runs one event loop (asgi, tornado, gevent, eventlet). The main
/// thread, which started Python, runs the loop; a control thread beats the heartbeat, watches
/// the signals and the loop's pulse, starts Kestrel once the app is ready (ASGI: lifespan
/// startup done), and drains and stops it. The control thread does not enter Python: hooks
/// and a Python logger's lines go to the loop as calls (under gevent and eventlet the
/// interpreter is patched for the hub's thread alone). The one exception is a loop stuck past
/// --timeout, which cannot run anything: its stack and worker_abort are read from here.
/// </summary>
internal static class LoopWorker
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(200);

    public static int Run(Config config, WorkerKind kind, WorkerHandoff handoff, Heartbeat heartbeat, StopSignals signals,
        RequestRules rules, RequestRecorder recorder)
    {
        var pid = Environment.ProcessId;
        using var server = new LoopServer();
        ILoopRuntime runtime;
        try
        {
            runtime = StartRuntime(config, kind, server, rules, recorder);
        }
        catch (Exception e) when (e is PythonNotUsableException or AppLoadException)
        {
            return WorkerProcess.AppLoadFailed(e);
        }
        WorkerHooks.Call("post_worker_init");

        var state = new WorkerStatus(heartbeat, TimeProvider.System, () => server.InFlight);
        server.RequestLimit = WorkerProcess.RequestLimit(config);
        server.RequestLimitReached = WorkerProcess.ReplaceAtLimit(state);
        var drain = new DrainSignal();
        var gate = new ConnectionsGate(config.Get(CompatSettings.WorkerConnections));
        if (WorkerProcess.CreateHost(config, handoff, rules, gate) is not { } host) return Program.ExitWorkerBootError;
        gate.Open = () => host.OpenConnections;
        using var reloader = config.Get(ProcessSettings.Reload) ? FileWatcher.Start(config, state.RequestReplacement) : null;
        var admission = new Admission(drain, config.Get(SecuritySettings.BodyBufferSize), rules, recorder);

        // A Python logger's lines (and USR1's reopen) go to the hub while it serves, from
        // whatever thread logs: Kestrel's, the control thread, a native on the hub's own stack.
        if (kind is WorkerKind.Gevent or WorkerKind.Eventlet) PythonLogging.Marshal = build => server.Post(new LoopCall(build));
        var loopDone = new ManualResetEventSlim(false);
        var control = new Thread(() => Control(config, handoff, signals, server, runtime, host, admission, state, loopDone))
        {
            IsBackground = true, Name = "loop-control",
        };
        control.Start();
        var code = runtime.Serve();
        loopDone.Set();
        control.Join(TimeSpan.FromSeconds(5));
        if (code != 0) return code == Program.ExitWorkerBootError ? Program.ExitWorkerBootError : code;
        ErrorLog.Info($"Worker exiting (pid: {pid})");
        WorkerHooks.Call("worker_exit");
        host.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(1));
        runtime.Shutdown();
        return Program.ExitOk;
    }

    private static ILoopRuntime StartRuntime(Config config, WorkerKind kind, LoopServer server, RequestRules rules, RequestRecorder recorder)
    {
        var (python, sysPath, argv) = WorkerProcess.AppEnvironment(config);
        var env = config.Get(ServerSettings.RawEnv);
        var app = config.Get(ServerSettings.WsgiApp);
        if (kind is WorkerKind.Gevent or WorkerKind.Eventlet)
            return GreenRuntime.Start(python, argv, sysPath, env, app, server, GreenOptions.From(config, kind, rules, recorder.EnvironKeys));
        var options = AsgiOptions.From(config);
        // Tornado has no lifespan protocol: its apps start in their module or a hook.
        if (kind == WorkerKind.Tornado) options = options with { Lifespan = "off" };
        return AsgiRuntime.Start(python, argv, sysPath, env, app, server, options, kind == WorkerKind.Tornado ? TornadoApp.Adapt : null);
    }

    private static void Control(Config config, WorkerHandoff handoff, StopSignals signals, LoopServer server, ILoopRuntime runtime,
        KestrelHost host, Admission admission, WorkerStatus state, ManualResetEventSlim loopDone)
    {
        // Lifespan startup first: the worker accepts only once the app is ready (or not at all).
        while (!server.WaitReady(Tick))
        {
            if (loopDone.IsSet) return;
            state.Beat(server.Handled);
        }
        host.StartAsync(new LoopHttpApplication(server, admission), CancellationToken.None).GetAwaiter().GetResult();
        state.Set(WorkerState.Serving, server.Handled);

        var timeout = TimeSpan.FromSeconds(config.Get(ProcessSettings.Timeout));
        var stop = Watch(handoff, signals, server, state, timeout, loopDone);
        admission.Drain.Set();
        if (stop == StopKind.TimedOut)
        {
            ErrorLog.Error($"The event loop has not run for {server.SinceLastDrain.TotalSeconds:0.0} s, past the {timeout.TotalSeconds:0} s timeout " +
                "(a blocking call in a coroutine?): this worker exits and is replaced");
            if (runtime.LoopStack(TimeSpan.FromSeconds(2)) is { } stack) ErrorLog.Error($"The event loop is at:\n{stack}");
            state.Set(WorkerState.TimedOut, server.Handled);
            WorkerHooks.CallBounded("worker_abort", TimeSpan.FromSeconds(2));
            ErrorLog.Info($"Worker exiting (pid: {Environment.ProcessId})");
            WorkerProcess._exit(1);
        }
        host.StopAccepting(takeBacklog: true);
        var quick = stop == StopKind.Quick;
        if (quick) WorkerHooks.CallOnLoop(server, "worker_int", TimeSpan.FromSeconds(2));
        else
        {
            // HTTP requests finish; WebSockets have until shortly before --graceful-timeout
            // to end by themselves, then get 1012 "service restart". The master kills this
            // worker at the timeout itself: the close handshake must fit before it.
            var grace = TimeSpan.FromSeconds(config.Get(ProcessSettings.GracefulTimeout));
            var deadline = WorkerProcess.GraceDeadline(config);
            var closeWebSockets = Deadline.After(grace - TimeSpan.FromSeconds(Math.Min(1, grace.TotalSeconds / 2)), TimeProvider.System);
            var closing = false;
            while (host.OpenConnections > 0 && !deadline.HasPassed(TimeProvider.System) && !loopDone.IsSet)
            {
                if (!closing && closeWebSockets.HasPassed(TimeProvider.System))
                {
                    closing = true;
                    server.CloseWebSockets(1012, "service restart");
                }
                state.Beat(server.Handled);
                server.Ping();
                Thread.Sleep(50);
            }
        }
        server.CloseWebSockets(1012, "service restart");
        using (var now = new CancellationTokenSource(quick ? TimeSpan.Zero : TimeSpan.FromSeconds(1)))
            host.StopAsync(now.Token).Wait(TimeSpan.FromSeconds(quick ? 0.5 : 2));
        // The loop cancels what still runs, runs lifespan shutdown, and returns on the main thread.
        server.Stop();
        while (!loopDone.Wait(Tick)) state.Beat(server.Handled);
    }

    /// <summary>Beats the heartbeat and pings the loop until something ends the worker, and says what.</summary>
    private static StopKind Watch(WorkerHandoff handoff, StopSignals signals, LoopServer server, WorkerStatus state, TimeSpan timeout,
        ManualResetEventSlim loopDone)
    {
        while (true)
        {
            var signal = signals.Wait(Tick);
            if (signal != StopKind.None) return signal;
            if (loopDone.IsSet) return StopKind.Quick;
            if (Unix.ParentPid() != handoff.MasterPid)
            {
                ErrorLog.Info($"Parent changed, shutting down: worker {Environment.ProcessId}");
                return StopKind.Graceful;
            }
            // A loop that takes its pings is alive, however many coroutines sleep on it.
            if (timeout > TimeSpan.Zero && server.SinceLastDrain > timeout) return StopKind.TimedOut;
            server.Ping();
            state.Beat(server.Handled);
        }
    }
}
