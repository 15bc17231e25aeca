namespace Narwhal.Worker;

/// <summary>
/// When the request each Python thread runs started, for the --timeout watchdog (the oldest
/// request past the limit) and the accept gate (how many threads a slow request holds).
/// Written by each thread for its own slot, read by other threads without a lock: a read
/// that races a request's start or end sees it either running or not, never half.
/// </summary>
internal sealed class RunningRequests<T>(int slots, TimeProvider time) where T : class
{
    // Per slot: the start timestamp, 0 when idle (a monotonic clock's timestamps are past 0).
    private readonly long[] _since = new long[slots];
    private readonly T?[] _request = new T?[slots];

    public void Begin(int slot, T request)
    {
        Volatile.Write(ref _request[slot], request);
        Volatile.Write(ref _since[slot], time.GetTimestamp());
    }

    public void End(int slot)
    {
        Volatile.Write(ref _since[slot], 0);
        Volatile.Write(ref _request[slot], null);
    }

    /// <summary>The request that has run longest, if it has run for longer than <paramref name="limit"/>.</summary>
    public (T Request, TimeSpan Age)? Oldest(TimeSpan limit)
    {
        (T, TimeSpan)? oldest = null;
        var oldestStart = StartedBefore(limit);
        for (var i = 0; i < _since.Length; i++)
        {
            var start = Volatile.Read(ref _since[i]);
            if (start == 0 || start >= oldestStart || Volatile.Read(ref _request[i]) is not { } request) continue;
            oldestStart = start;
            oldest = (request, time.GetElapsedTime(start));
        }
        return oldest;
    }

    /// <summary>How many requests have run for longer than <paramref name="limit"/>.</summary>
    public int CountLongerThan(TimeSpan limit)
    {
        var since = StartedBefore(limit);
        var n = 0;
        for (var i = 0; i < _since.Length; i++)
        {
            var start = Volatile.Read(ref _since[i]);
            if (start != 0 && start < since) n++;
        }
        return n;
    }

    private long StartedBefore(TimeSpan limit) => time.GetTimestamp() - (long)(limit.TotalSeconds * time.TimestampFrequency);
}
