using System.Diagnostics;

namespace Narwhal.Worker;

/// <summary>
/// A connection feature that tells the accept gate (<see cref="InheritedListeners"/>), once,
/// that a new connection no longer waits to be counted: its first request arrived (from
/// then on it is counted as in flight), it closed without one, or it is a slow client.
/// </summary>
internal sealed class FirstRequestFeature(InheritedListeners owner)
{
    private int _done;

    public long AcceptedAt { get; } = Stopwatch.GetTimestamp();

    public bool Done => Volatile.Read(ref _done) != 0;

    public void Arrived()
    {
        if (Interlocked.Exchange(ref _done, 1) == 0) owner.Unstarted();
    }
}
