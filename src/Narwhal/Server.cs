using System.Runtime.InteropServices;
using Narwhal.Logging;
using Narwhal.Python;
using Narwhal.Settings;
using Narwhal.Worker;
using Narwhal.Wsgi;

namespace Narwhal;

/// <summary>
/// One serving process: loads the app into the embedded interpreter, starts Kestrel on
/// every bind, and stops on TERM/INT/QUIT. (The master/worker split comes on top of this.)
/// </summary>
internal static partial class Server
{
    // How long in-flight requests get to finish on a stop signal (Gunicorn's graceful_timeout default).
    private static readonly TimeSpan GracefulTimeout = TimeSpan.FromSeconds(30);

    public static int Run(Config config, string[] args)
    {
        ApplyEnvironment(config.Get(ServerSettings.RawEnv));
        var chdir = config.Get(ServerSettings.Chdir);
        Directory.SetCurrentDirectory(chdir);

        var binds = config.Get(ServerSettings.Bind).Select(BindAddress.Parse).ToList();
        var threads = config.Get(ServerSettings.Threads);
        if (threads > ExchangeTable.MaxThreads)
        {
            ErrorLog.Error($"Invalid value for threads: {threads} (allowed: 1 to {ExchangeTable.MaxThreads})");
            return Program.ExitUsage;
        }

        ErrorLog.Info($"Starting narwhal {Program.Version}");
        PythonInstallation python;
        WsgiRuntime runtime;
        try
        {
            python = PythonInstallation.Find(NullIfEmpty(config.Get(ServerSettings.Python)));
            var sysPath = new List<string> { chdir };
            sysPath.AddRange(config.Get(ServerSettings.PythonPath).Select(Path.GetFullPath));
            runtime = WsgiRuntime.Start(python, ["narwhal", .. args], sysPath,
                config.Get(ServerSettings.WsgiApp), multithread: threads > 1);
        }
        catch (PythonNotUsableException e)
        {
            ErrorLog.Error(e.Message);
            return Program.ExitWorkerBootError;
        }
        catch (AppLoadException e)
        {
            ErrorLog.Error(e.Message);
            return Program.ExitAppLoadError;
        }

        var pythonThreads = new PythonThreads(runtime, threads);
        var host = KestrelHost.Create(binds, config.Get(ServerSettings.KeepAlive));
        using var stop = new CancellationTokenSource();
        var quick = false;
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
        using var intr = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; quick = true; stop.Cancel(); });
        using var quit = PosixSignalRegistration.Create((PosixSignal)3 /* SIGQUIT */, c => { c.Cancel = true; quick = true; stop.Cancel(); });

        pythonThreads.Start();
        try
        {
            host.StartAsync(new WsgiHttpApplication(pythonThreads), CancellationToken.None).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or InvalidOperationException)
        {
            ErrorLog.Error($"Can't connect to {string.Join(", ", binds)}: {e.Message}");
            return Program.ExitError;
        }
        foreach (var bind in binds) ErrorLog.Info($"Listening at: {bind} ({Environment.ProcessId})");
        ErrorLog.Info($"Using worker: narwhal (python {python.Version}, {threads} thread{(threads == 1 ? "" : "s")})");
        ErrorLog.Info($"Booting worker with pid: {Environment.ProcessId}");

        stop.Token.WaitHandle.WaitOne();
        ErrorLog.Info(quick ? "Handling signal: quit" : "Handling signal: term");

        using (var grace = new CancellationTokenSource(quick ? TimeSpan.Zero : GracefulTimeout))
            host.StopAsync(grace.Token).GetAwaiter().GetResult();
        host.DisposeAsync().AsTask().GetAwaiter().GetResult();

        if (pythonThreads.Stop(TimeSpan.FromSeconds(quick ? 1 : 5)))
            runtime.Shutdown();
        else
            ErrorLog.Warning("A request is still running in Python; exiting without finalizing the interpreter");
        ErrorLog.Info($"Worker exiting (pid: {Environment.ProcessId})");
        ErrorLog.Info("Shutting down: Master");
        return Program.ExitOk;
    }

    /// <summary>-e KEY=VALUE must reach os.environ, which Python reads from the C environment at start-up.</summary>
    private static void ApplyEnvironment(IEnumerable<string> pairs)
    {
        foreach (var pair in pairs)
        {
            var eq = pair.IndexOf('=');
            setenv(pair[..eq], pair[(eq + 1)..], 1);
            Environment.SetEnvironmentVariable(pair[..eq], pair[(eq + 1)..]);
        }
    }

    private static string? NullIfEmpty(string s) => s.Length == 0 ? null : s;

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int setenv(string name, string value, int overwrite);
}
