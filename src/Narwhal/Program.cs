using System.Reflection;
using Narwhal.Cli;
using Narwhal.Logging;
using Narwhal.Master;
using Narwhal.Settings;
using Narwhal.Supervision;
using Narwhal.Worker;

namespace Narwhal;

/// <summary>Entry point: read the configuration, then run as the master, a worker, or one of the checks.</summary>
internal static class Program
{
    /// <summary>The release version: the csproj's &lt;Version&gt;, its one home (packaging/build-wheel reads it there too).</summary>
    public static readonly string Version =
        typeof(Program).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    // Gunicorn's exit codes, kept so process supervisors and scripts read them the same.
    public const int ExitOk = 0;
    public const int ExitError = 1;
    public const int ExitUsage = 2;
    public const int ExitWorkerBootError = 3;
    public const int ExitAppLoadError = 4;

    public static int Main(string[] args)
    {
        // First, before anything starts .NET's signal handling (see InheritedSignals).
        Posix.InheritedSignals.Unignore(Posix.InheritedSignals.RecordedAtStartup);
        // Before the first socket: the engine reads its mode once.
        SocketEngine.PreferInlineCompletions();
        // The config file's glue (Settings/) writes to the error log (Logging/, above it).
        Settings.ConfigFile.GlueLoaded = Logging.NativeLog.Install;
        // A gevent or eventlet worker patches its interpreter before anything runs in it.
        Green.GreenPatch.Arm();
        CommandLineResult cli;
        Config config;
        if (SettingsDocs.Requested(args) is { } docs)
        {
            Console.Out.Write(docs);
            return ExitOk;
        }
        try
        {
            cli = CommandLine.Parse(args);
            if (cli.ShowHelp)
            {
                Console.Out.Write(HelpText.Build());
                return ExitOk;
            }
            if (cli.ShowVersion)
            {
                Console.Out.WriteLine($"narwhal (version {Version})");
                return ExitOk;
            }
            config = ConfigLoader.Load(cli.Layer, EnvironmentArgs.Read(), cli.App);
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine(HelpText.Usage);
            Console.Error.WriteLine($"narwhal: error: {e.Message}");
            return ExitUsage;
        }
        catch (ConfigException e)
        {
            Console.Error.WriteLine($"\nError: {e.Message}");
            // A worker that cannot read its configuration failed to boot: the master must not respawn it in a loop.
            return Environment.GetEnvironmentVariable(WorkerHandoff.Variable) != null ? ExitWorkerBootError : ExitError;
        }

        if (config.Get(ConfigFileSettings.PrintConfig))
            Console.Out.WriteLine(PrintConfig.Format(config));
        if (config.Get(ConfigFileSettings.PrintConfig) || config.Get(ConfigFileSettings.CheckConfig))
            return WorkerProcess.CheckConfig(config);

        if (config.Get(ServerSettings.WsgiApp).Length == 0)
        {
            Console.Error.WriteLine(HelpText.Usage);
            Console.Error.WriteLine("narwhal: error: No application module specified.");
            return ExitUsage;
        }
        if (Environment.GetEnvironmentVariable(WorkerHandoff.PreloadCheckVariable) == "1")
        {
            Posix.Environ.Unset(WorkerHandoff.PreloadCheckVariable);
            return WorkerProcess.CheckApp(config);
        }
        if (WorkerHandoff.TakeFromEnvironment() is { } handoff)
            return WorkerProcess.Run(config, handoff);

        var daemon = Daemon.IsDaemon;
        if (daemon) Posix.Environ.Unset(Daemon.Variable);
        else if (config.Get(ProcessSettings.Daemon))
        {
            Daemon.Detach(args, config.Get(LoggingSettings.EnableStdioInheritance));
            return ExitOk;
        }
        return new Arbiter(config, args, daemon).Run();
    }
}
