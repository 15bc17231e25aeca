namespace Narwhal.Supervision;

/// <summary>One read of a worker's heartbeat file (layout in <see cref="Heartbeat"/>).</summary>
internal readonly record struct HeartbeatReading(long Beat, WorkerState State, int ReplaceRequests, long Handled)
{
    /// <summary>
    /// True when the worker has not rewritten its heartbeat for longer than
    /// <paramref name="timeout"/> (--timeout; zero or less: never stale): not even its
    /// watchdog runs. <paramref name="time"/> must be the clock the worker beats with.
    /// </summary>
    public bool IsStale(TimeSpan timeout, TimeProvider time) =>
        timeout > TimeSpan.Zero && time.GetElapsedTime(Beat) > timeout;
}
