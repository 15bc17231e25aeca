using System.Globalization;

namespace Narwhal.Supervision;

/// <summary>
/// What the master hands a worker it starts, in one environment variable (removed again before
/// the app can see it): the inherited listening sockets, the heartbeat file, the master's PID
/// (a worker leaves when its master is gone), the worker's age (its spawn order, as Gunicorn's
/// <c>worker.age</c>) and the table of accept shares with the worker's slot in it
/// (<see cref="AcceptShares"/>; -1 and -1 without one, as with --reuse-port).
/// </summary>
internal sealed record WorkerHandoff(IReadOnlyList<int> ListenerFds, int HeartbeatFd, int MasterPid, int Age,
    int SharesFd = -1, int ShareSlot = -1)
{
    public const string Variable = "NARWHAL_WORKER";

    /// <summary>Set instead for the throwaway process that --preload starts to load the app once.</summary>
    public const string PreloadCheckVariable = "NARWHAL_PRELOAD_CHECK";

    public string Format() => string.Create(CultureInfo.InvariantCulture,
        $"fds={string.Join(',', ListenerFds)};heartbeat={HeartbeatFd};master={MasterPid};age={Age};shares={SharesFd}:{ShareSlot}");

    /// <summary>The handoff of this process if it is a worker, and removes it from the environment.</summary>
    public static WorkerHandoff? TakeFromEnvironment()
    {
        var raw = Environment.GetEnvironmentVariable(Variable);
        if (string.IsNullOrEmpty(raw)) return null;
        Posix.Environ.Unset(Variable);
        var fields = raw.Split(';').Select(f => f.Split('=', 2)).ToDictionary(f => f[0], f => f.Length > 1 ? f[1] : "");
        var shares = fields.TryGetValue("shares", out var s) ? s.Split(':') : ["-1", "-1"];
        return new WorkerHandoff(
            fields["fds"].Split(',', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToList(),
            int.Parse(fields["heartbeat"]), int.Parse(fields["master"]), int.Parse(fields["age"]),
            int.Parse(shares[0]), int.Parse(shares[1]));
    }
}
