namespace Narwhal.Master;

/// <summary>
/// What the master tells systemd (Type=notify and Type=notify-reload units), decided from the
/// arbiter's events and worker counts; <c>send</c> delivers one datagram of lines.
/// <list type="bullet">
/// <item>READY=1 once every worker of the current generation serves: at start, and again after
/// a HUP, whose RELOADING=1 (with MONOTONIC_USEC, as notify-reload wants) comes first. A master
/// started by USR2 puts MAINPID=itself in its first READY, so the unit follows the upgrade.</item>
/// <item>STATUS= whenever the number of serving workers changes.</item>
/// <item>STOPPING=1 on the way out, unless another master of the same service stays (the USR2
/// pair): then the one leaving hands MAINPID to the one staying and says nothing else, since
/// systemd would stop the whole unit on STOPPING=1.</item>
/// <item>Silence while a USR2 master of ours is running: it is the one speaking for the unit.
/// If it goes away, this master takes MAINPID back with a fresh READY=1.</item>
/// </list>
/// </summary>
internal sealed class ServiceNotifier(Func<string[], string?> send, int pid, bool announceMainPid)
{
    private bool _ready;
    private bool _reloading;
    private bool _silent;
    private bool _stopping;
    private bool _announceMainPid = announceMainPid;
    private string? _status;

    /// <summary>The last send failure, for the arbiter to log once.</summary>
    public string? LastError { get; private set; }

    /// <param name="serving">Workers serving now, of any generation.</param>
    /// <param name="generationServes">Every worker of the current generation serves, as many as wanted.</param>
    public void Workers(int serving, int desired, bool generationServes)
    {
        if (_silent || _stopping) return;
        var status = "STATUS=" + (_reloading ? "reloading, " : "") + Count(serving) + " serving"
            + (generationServes ? "" : $", {desired} wanted");
        if (generationServes && !_ready)
        {
            _ready = true;
            _reloading = false;
            status = "STATUS=" + Count(serving) + " serving";
            var lines = new List<string>();
            if (_announceMainPid) lines.Add($"MAINPID={pid}");
            _announceMainPid = false;
            lines.Add("READY=1");
            lines.Add(status);
            Send([.. lines]);
        }
        else if (status != _status)
        {
            Send(status);
        }
        _status = status;
    }

    /// <summary>HUP: a new generation of workers is coming.</summary>
    public void Reloading(long monotonicMicroseconds)
    {
        if (_silent || _stopping) return;
        _ready = false;
        _reloading = true;
        _status = "STATUS=reloading";
        Send("RELOADING=1", $"MONOTONIC_USEC={monotonicMicroseconds}", _status);
    }

    /// <summary>The master is leaving; <paramref name="heir"/> is the other master of a USR2 pair that stays, if any.</summary>
    public void Stopping(int? heir)
    {
        if (_stopping) return;
        _stopping = true;
        if (heir is { } other) Send($"MAINPID={other}");
        else Send("STOPPING=1", "STATUS=stopping");
    }

    /// <summary>USR2: the new master speaks for the unit from now on.</summary>
    public void HandOver() => _silent = true;

    /// <summary>The USR2 master is gone: this one is the unit's main process again.</summary>
    public void TakeBack()
    {
        if (!_silent) return;
        _silent = false;
        _ready = false;
        _status = null;
        _announceMainPid = true;
    }

    private static string Count(int n) => n == 1 ? "1 worker" : $"{n} workers";

    private void Send(params string[] lines) => LastError = send(lines);
}
