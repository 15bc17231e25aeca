namespace Narwhal.Settings;

/// <summary>Gunicorn's settings sections, so <c>--help</c> and docs group settings the way Gunicorn's reference does.</summary>
internal static class Sections
{
    public const string ServerSocket = "Server Socket";
    public const string WorkerProcesses = "Worker Processes";
    public const string ServerMechanics = "Server Mechanics";
    public const string ProcessNaming = "Process Naming";
    public const string Debugging = "Debugging";
    public const string Python = "Python (Narwhal)";
}
