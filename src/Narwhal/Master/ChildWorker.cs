using System.Diagnostics;
using Narwhal.Supervision;

namespace Narwhal.Master;

/// <summary>The master's record of one worker process.</summary>
internal sealed class ChildWorker(Process process, Heartbeat heartbeat, int age, int shareSlot = -1) : IDisposable
{
    public Process Process { get; } = process;
    public Heartbeat Heartbeat { get; } = heartbeat;
    public int Pid { get; } = process.Id;
    /// <summary>Spawn order, as Gunicorn's worker.age: the oldest are retired first.</summary>
    public int Age { get; } = age;

    /// <summary>Its slot in the accept shares table (<see cref="AcceptShares"/>), -1 for none; free again once it is reaped.</summary>
    public int ShareSlot { get; } = shareSlot;

    /// <summary>Has said it is serving (app loaded, accepting).</summary>
    public bool Ready { get; set; }

    /// <summary>Leaving: not counted as capacity. Until <see cref="TermSent"/> it still serves, waiting for its replacement.</summary>
    public bool Retiring { get; set; }

    public bool TermSent { get; set; }

    /// <summary>Reported a request past --timeout; it stopped accepting and exits once its other requests are done.</summary>
    public bool TimedOut { get; set; }

    /// <summary>Sent SIGABRT for a silent heartbeat; SIGKILL follows on the next check.</summary>
    public bool Aborted { get; set; }

    /// <summary>When it gets SIGKILL if still alive; null for never.</summary>
    public Deadline? KillAt { get; set; }

    /// <summary>The worker's count of replacement requests last acted on.</summary>
    public int SeenReplaceRequests { get; set; }

    /// <summary>--max-worker-rss: the master's checks in a row that found it over the limit.</summary>
    public int RssChecksOver { get; set; }

    public void Dispose()
    {
        Heartbeat.Dispose();
        Process.Dispose();
    }
}
