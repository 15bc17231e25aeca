using System.Net.Sockets;
using Narwhal.Cli;
using Narwhal.Logging;
using Narwhal.Posix;
using Narwhal.Settings;
using Narwhal.Supervision;

namespace Narwhal.Master;

/// <summary>A fatal condition that ends the master with an exit code (Gunicorn's HaltServer).</summary>
internal sealed class HaltException(string reason, int exitCode) : Exception(reason)
{
    public int ExitCode { get; } = exitCode;
}

/// <summary>
/// The master process, after Gunicorn's arbiter: owns the listening sockets, never loads the
/// app, keeps <c>--workers</c> worker processes running and acts on signals. Workers are new
/// processes of this binary (.NET cannot fork) that inherit the sockets by descriptor.
/// Everything here runs on one thread, the main loop; signals and child exits are queued to it.
/// This file: start-up, the loop and the stop. Arbiter.Workers.cs keeps the worker count,
/// Arbiter.Signals.cs answers signals; WorkerSpawner, WorkerMetrics, RssLimit and Reexec (USR2) are
/// classes of their own, each with the little state it needs.
/// </summary>
internal sealed partial class Arbiter
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(200);

    private readonly string[] _args;
    private readonly string _executable = Environment.ProcessPath!;
    private readonly bool _daemonized;
    // The workers' clock too: heartbeats carry its timestamps from one process to the other.
    private readonly TimeProvider _time = TimeProvider.System;
    private readonly MasterSignals _signals = new();
    private readonly WorkerSpawner _spawner;
    private readonly WorkerMetrics _metrics;
    private readonly RssLimit _rssLimit;
    private readonly Reexec _reexec;
    private readonly List<ChildWorker> _workers = [];
    private Config _config;
    private List<Listener> _listeners = [];
    // The workers' accept shares (issue 13: connections spread evenly); null if it could not be made.
    private AcceptShares? _shares;
    private bool _systemd;
    private bool _stopping;
    private Pidfile? _pidfile;
    private int _desired;
    private string _procName;

    public Arbiter(Config config, string[] args, bool daemonized)
    {
        _config = config;
        _args = args;
        _daemonized = daemonized;
        _procName = ProcName.Of(_config);
        // Workers and a USR2 master start in this directory, before --chdir, as Gunicorn's START_CTX.
        var startDirectory = Directory.GetCurrentDirectory();
        _spawner = new WorkerSpawner(_executable, startDirectory, args, _time, _signals.Wake, age => Hook(HookSettings.PreFork.Name, age));
        _metrics = new WorkerMetrics(_time);
        _rssLimit = new RssLimit(_time);
        _reexec = new Reexec(_executable, startDirectory, args, _signals.Wake);
    }

    private TimeSpan Timeout => TimeSpan.FromSeconds(_config.Get(ProcessSettings.Timeout));
    private TimeSpan GracefulTimeout => TimeSpan.FromSeconds(_config.Get(ProcessSettings.GracefulTimeout));

    public int Run()
    {
        try
        {
            Start();
            Loop();
            return Program.ExitOk; // not reached: the loop ends by HaltException
        }
        catch (HaltException halt)
        {
            return Halt(halt.Message, halt.ExitCode);
        }
        catch (ConfigException e)
        {
            Console.Error.WriteLine($"\nError: {e.Message}");
            return Program.ExitError;
        }
    }

    private void Hook(string name, long? arg1 = null, long? arg2 = null) =>
        MasterHooks.Call(name, _workers.Select(w => (w.Pid, w.Age)), _desired, _listeners.Select(l => l.ToString()), arg1, arg2);

    private void SetDesired(int value, bool first = false)
    {
        var old = _desired;
        _desired = value;
        if (first || old != value) Hook(HookSettings.NworkersChanged.Name, value, first ? null : old);
    }

    private void Start()
    {
        // First, as Gunicorn does: a relative log path names the same file in the master as in
        // the workers, which start in this directory, and after a USR1.
        Directory.SetCurrentDirectory(_config.Get(ServerSettings.Chdir));
        LogSetup.Apply(_config, Owner.Uid(_config), Owner.Gid(_config));
        LogConfiguration();
        Settings.ConfigFile.Publish(_config, Environment.ProcessId);
        Environ.Apply(_config.Get(ServerSettings.RawEnv));
        if (_reexec.TakeParentFromEnvironment()) _procName += ".2";
        OpenNotifySocket();
        SetDesired(_config.Get(ProcessSettings.Workers), first: true);
        ErrorLog.Info($"Starting narwhal {Program.Version}");
        Hook(HookSettings.OnStarting.Name);
        try
        {
            _listeners = OpenListeners();
        }
        catch (Exception e) when (e is IOException or SocketException or UnauthorizedAccessException)
        {
            throw new HaltException($"Can't connect to {string.Join(", ", _config.Get(ServerSettings.Bind))}: {e.Message}", Program.ExitError);
        }
        try
        {
            _shares = AcceptShares.Create();
        }
        catch (IOException e)
        {
            ErrorLog.Warning($"Workers accept without sharing their counts (connections may spread unevenly): {e.Message}");
        }
        if (_config.Get(ProcessSettings.Pidfile) is { Length: > 0 } pidPath)
        {
            _pidfile = new Pidfile(_reexec.HasParent ? pidPath + ".2" : pidPath);
            try
            {
                _pidfile.Create(Environment.ProcessId);
            }
            catch (IOException e)
            {
                _pidfile = null;
                throw new HaltException(e.Message, Program.ExitError);
            }
        }
        ProcessTitle.Set($"master [{_procName}]");
        ErrorLog.Debug("Arbiter booted");
        ErrorLog.Info($"Listening at: {string.Join(",", _listeners)} ({Environment.ProcessId})");
        var threads = _config.Get(ServerSettings.Threads);
        ErrorLog.Info(CompatSettings.KindOf(_config) switch
        {
            WorkerKind.Asgi => $"Using worker: asgi (narwhal, {_config.Get(AsgiSettings.Loop)} event loop)",
            WorkerKind.Tornado => "Using worker: tornado (narwhal, asyncio event loop)",
            WorkerKind.Gevent => "Using worker: gevent (narwhal)",
            WorkerKind.Eventlet => "Using worker: eventlet (narwhal)",
            _ => $"Using worker: narwhal ({threads} thread{(threads == 1 ? "" : "s")})",
        });
        if (_config.Get(LoggingSettings.MetricsBind) is { Length: > 0 } metricsBind)
        {
            try
            {
                _metrics.Serve(metricsBind);
                _metrics.Update(_workers);
            }
            catch (SocketException e)
            {
                throw new HaltException($"Can't serve metrics at {metricsBind}: {e.Message}", Program.ExitError);
            }
            ErrorLog.Info($"Metrics at: http://{metricsBind}/metrics");
        }
        if (_config.Get(ProcessSettings.Preload)) _spawner.Preload(_config);
        Hook(HookSettings.WhenReady.Name);
    }

    /// <summary>Sockets from systemd (LISTEN_FDS), from the old master on USR2, or bound from --bind.</summary>
    private List<Listener> OpenListeners()
    {
        if (Environment.GetEnvironmentVariable("LISTEN_PID") == Environment.ProcessId.ToString()
            && int.TryParse(Environment.GetEnvironmentVariable("LISTEN_FDS"), out var count) && count > 0)
        {
            _systemd = true;
            Environ.Unset("LISTEN_PID");
            Environ.Unset("LISTEN_FDS");
            return Enumerable.Range(3, count).Select(Listener.Adopt).ToList();
        }
        foreach (var variable in new[] { Reexec.ListenFdsVariable, "GUNICORN_FD" })
        {
            if (Environment.GetEnvironmentVariable(variable) is not { Length: > 0 } fds) continue;
            Environ.Unset(variable);
            return fds.Split(',').Select(int.Parse).Select(Listener.Adopt).ToList();
        }
        var backlog = _config.Get(ProcessSettings.Backlog);
        var reusePort = _config.Get(ProcessSettings.ReusePort);
        var umask = _config.Get(ProcessSettings.Umask);
        var (uid, gid) = (Owner.Uid(_config), Owner.Gid(_config));
        var listeners = new List<Listener>();
        foreach (var bind in _config.Get(ServerSettings.Bind).Select(BindAddress.Parse))
        {
            // With --reuse-port each worker listens on its own socket; the master's stays
            // bound but not listening, so the kernel never hands it a connection.
            listeners.Add(BindRetrying(bind, () => Listener.Bind(bind, backlog, reusePort, umask, uid, gid,
                listen: !(reusePort && bind.Kind == BindKind.Tcp))));
        }
        return listeners;
    }

    /// <summary>
    /// Gunicorn's create_sockets: an address in use is tried five times a second apart (a
    /// server restarting in place frees it), each failure logged as Gunicorn logs it.
    /// </summary>
    private static Listener BindRetrying(BindAddress bind, Func<Listener> open)
    {
        const int Attempts = 5;
        var shown = bind.Kind == BindKind.Tcp ? $"('{bind.Host}', {bind.Port})" : bind.ToString();
        for (var attempt = 1; attempt <= Attempts; attempt++)
        {
            try
            {
                return open();
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
            {
                ErrorLog.Error($"Connection in use: {shown}");
                ErrorLog.Error("Retrying in 1 second.");
                Thread.Sleep(1000);
            }
        }
        throw new SocketException((int)SocketError.AddressAlreadyInUse);
    }

    private void Loop()
    {
        ManageWorkers();
        while (true)
        {
            MaybePromote();
            var signal = _signals.Next(Tick);
            if (signal == 0)
            {
                ReapWorkers();
                CheckWorkers();
                ManageWorkers();
                _metrics.ReportWorkers(_workers.Count);
                _metrics.Update(_workers);
            }
            else
            {
                ErrorLog.Info($"Handling signal: {MasterSignals.Name(signal)}");
                Handle(signal);
            }
            NotifyWorkers();
        }
    }

    private string MasterName => _reexec.HasParent ? "Master.2" : "Master";

    /// <summary>Gunicorn's arbiter logs every setting at debug when it reads them.</summary>
    private void LogConfiguration()
    {
        if (ErrorLog.Threshold == LogLevel.Debug) ErrorLog.Debug(PrintConfig.CurrentConfiguration(_config));
    }

    /// <summary>A master started by USR2 takes over once the old master is gone.</summary>
    private void MaybePromote()
    {
        if (!_reexec.Promoted()) return;
        _procName = ProcName.Of(_config);
        if (_pidfile != null)
        {
            try
            {
                _pidfile.Rename(_config.Get(ProcessSettings.Pidfile));
            }
            catch (IOException e)
            {
                ErrorLog.Error($"Can't take over the pid file: {e.Message}");
            }
        }
        ProcessTitle.Set($"master [{_procName}]");
    }

    /// <summary>
    /// Stops every worker: TERM (graceful: each answers what it holds, up to
    /// --graceful-timeout) or QUIT (quick), then SIGKILL for any left.
    /// </summary>
    private void Stop(bool graceful)
    {
        _stopping = true;
        // The socket file stays when another master (USR2) or systemd still uses it.
        var unlink = !_reexec.HasChild && !_reexec.HasParent && !_systemd;
        foreach (var l in _listeners)
        {
            l.Dispose();
            if (unlink && l.UnixPath != null) File.Delete(l.UnixPath);
        }
        _listeners = [];
        foreach (var w in _workers) Unix.Kill(w.Pid, graceful ? Unix.SIGTERM : Unix.SIGQUIT);
        var deadline = Deadline.After(GracefulTimeout, _time);
        while (_workers.Count > 0 && !deadline.HasPassed(_time))
        {
            ReapWorkers();
            Thread.Sleep(50);
        }
        foreach (var w in _workers)
        {
            Unix.Kill(w.Pid, Unix.SIGKILL);
            w.Process.WaitForExit(2000);
        }
        ReapWorkers();
    }

    private int Halt(string reason, int exitCode)
    {
        Notify(n => n.Stopping(heir: _reexec.Partner));
        if (_workers.Count > 0 || _listeners.Count > 0) Stop(graceful: true);
        ErrorLog.Info($"Shutting down: {MasterName}");
        if (reason.Length > 0) ErrorLog.Info($"Reason: {reason}");
        _pidfile?.Unlink();
        _shares?.Dispose();
        _metrics.Dispose();
        _notifySocket?.Dispose();
        Hook(HookSettings.OnExit.Name);
        return exitCode;
    }
}
