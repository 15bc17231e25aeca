namespace Narwhal.Settings;

/// <summary>Gunicorn's settings sections, so <c>--help</c> and docs group settings the way Gunicorn's reference does.</summary>
internal static class Sections
{
    public const string ConfigFile = "Config File";
    public const string Debugging = "Debugging";
    public const string Hooks = "Server Hooks";
    public const string Logging = "Logging";
    public const string ProcessNaming = "Process Naming";
    public const string Ssl = "SSL";
    public const string Security = "Security";
    public const string ServerMechanics = "Server Mechanics";
    public const string ServerSocket = "Server Socket";
    public const string WorkerProcesses = "Worker Processes";
    public const string Python = "Python (Narwhal)";
    public const string Metrics = "Metrics (Narwhal)";

    /// <summary>The order of sections in <c>--help</c> and docs.</summary>
    public const string Control = "Control";
    public const string Dirty = "Dirty Arbiters";
    public const string Http2 = "HTTP/2";

    public static readonly string[] Order =
        [ConfigFile, Control, Debugging, Dirty, Http2, Hooks, Logging, Metrics, ProcessNaming, Python, Ssl, Security, ServerMechanics, ServerSocket, WorkerProcesses];
}
