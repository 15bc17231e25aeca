namespace Narwhal.Worker;

/// <summary>
/// What the accept loop asks before taking a connection (<see cref="InheritedListeners"/>):
/// whether this worker can start on it now, or should leave it queued for a free worker.
/// </summary>
internal interface IAcceptGate
{
    /// <summary>True when one more request could start at once, counting <paramref name="unstarted"/> connections accepted whose first request has not come.</summary>
    bool HasFreeThread(int unstarted);

    /// <summary>Waits until the worker may take one more connection; false on timeout.</summary>
    bool WaitForCapacity(TimeSpan timeout);
}

/// <summary>
/// An event loop's gate: it has no threads to run out of, only --worker-connections. At the
/// limit it stops accepting, as Gunicorn's async workers do, so further connections wait in
/// the kernel's queue (or go to another worker) instead of getting the edge's 503.
/// </summary>
internal sealed class ConnectionsGate(int limit) : IAcceptGate
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(5);

    /// <summary>The worker's open connections; set once the host exists.</summary>
    public Func<int> Open { get; set; } = () => 0;

    private bool Below(int more) => limit <= 0 || Open() + more < limit;

    public bool HasFreeThread(int unstarted) => Below(unstarted);

    public bool WaitForCapacity(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!Below(0))
        {
            if (DateTime.UtcNow >= deadline) return false;
            Thread.Sleep(Poll);
        }
        return true;
    }
}
