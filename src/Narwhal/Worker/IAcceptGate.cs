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
/// An event loop's gate: it has no threads to run out of; worker_connections, at the edge,
/// bounds what it holds.
/// </summary>
internal sealed class OpenGate : IAcceptGate
{
    public bool HasFreeThread(int unstarted) => true;
    public bool WaitForCapacity(TimeSpan timeout) => true;
}
