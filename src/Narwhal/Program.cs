using Narwhal.Cli;
using Narwhal.Master;
using Narwhal.Settings;
using Narwhal.Worker;

namespace Narwhal;

/// <summary>Entry point: parse the command line, then run as the master, a worker, or the --preload check.</summary>
internal static class Program
{
    public const string Version = "0.1.0";

    // Gunicorn's exit codes, kept so process supervisors and scripts read them the same.
    public const int ExitOk = 0;
    public const int ExitError = 1;
    public const int ExitUsage = 2;
    public const int ExitWorkerBootError = 3;
    public const int ExitAppLoadError = 4;

    public static int Main(string[] args)
    {
        CommandLineResult cli;
        try
        {
            cli = CommandLine.Parse(args);
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine(HelpText.Usage);
            Console.Error.WriteLine($"narwhal: error: {e.Message}");
            return ExitUsage;
        }
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
        if (cli.Config.Get(ServerSettings.WsgiApp).Length == 0)
        {
            Console.Error.WriteLine(HelpText.Usage);
            Console.Error.WriteLine("narwhal: error: No application module specified.");
            return ExitUsage;
        }
        if (Environment.GetEnvironmentVariable(WorkerProcess.PreloadCheckVariable) == "1")
        {
            Posix.Environ.Unset(WorkerProcess.PreloadCheckVariable);
            return WorkerProcess.CheckApp(cli.Config);
        }
        if (WorkerHandoff.TakeFromEnvironment() is { } handoff)
            return WorkerProcess.Run(cli.Config, handoff);

        var daemon = Daemon.IsDaemon;
        if (daemon) Posix.Environ.Unset(Daemon.Variable);
        else if (cli.Config.Get(ProcessSettings.Daemon))
        {
            Daemon.Detach(args);
            return ExitOk;
        }
        return new Arbiter(cli.Config, args, daemon).Run();
    }
}
