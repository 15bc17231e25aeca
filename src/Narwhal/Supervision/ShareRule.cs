namespace Narwhal.Supervision;

/// <summary>What a worker publishes to the others for the accept decision (<see cref="AcceptShares"/>).</summary>
internal readonly record struct SharePeer(bool Free, int Connections);

/// <summary>How long a worker has left a waiting connection to the others (<see cref="ShareRule"/>).</summary>
internal enum YieldStage
{
    /// <summary>Not yet, or only a moment: the counts of every accepting worker decide.</summary>
    First,
    /// <summary>Long enough for a busy worker below its share to free a thread: only the free workers' counts decide.</summary>
    Waited,
    /// <summary>A whole yield in vain: no one took it, every worker is busy; the counts of every accepting worker decide, free or not.</summary>
    InVain,
}

/// <summary>
/// Whether a worker takes a waiting connection at once or leaves it a moment to the other
/// workers polling the same socket (issue 13: each worker's share of connections within 25 %
/// of the mean, whatever the client does). Two rules, both of which must allow it:
/// <list type="bullet">
/// <item>the free-thread rule, as before the shares: a worker that cannot start the
/// connection's request now (no free thread; an event loop at --worker-connections) leaves it
/// to one that can, even when no other worker says it can (one may be about to start
/// accepting);</item>
/// <item>the share rule: this worker's open connections are at most the mean of every
/// accepting worker's. The one with the fewest always may, so in a burst opened at once (wrk's
/// 32 keep-alive connections, which piled onto the worker whose accept thread woke first) the
/// workers take turns, none more than one connection ahead of the last. (The mean rounded up,
/// as first planned, let one of four workers run three ahead: 5/4/4/2 out of 15.)</item>
/// </list>
/// A free worker above its share does not wait long for a busy one below it: after
/// <see cref="YieldStage.Waited"/> only the free workers' counts count (counting only them from
/// the start let a one-thread worker that happened to be free take 24 of 32). After a whole
/// yield in vain the free-thread rule is moot, and the queue a burst leaves behind busy workers
/// is still shared out in turns instead of going to whichever yield ended first.
/// </summary>
internal static class ShareRule
{
    /// <summary>True when <paramref name="me"/> should take the waiting connection now; <paramref name="others"/> are the other accepting workers.</summary>
    public static bool TakesNow(SharePeer me, ReadOnlySpan<SharePeer> others, YieldStage stage = YieldStage.First)
    {
        // Taken here, its request would wait while another worker may start it now.
        if (!me.Free && stage != YieldStage.InVain) return false;
        long sum = me.Connections;
        var count = 1;
        foreach (var o in others)
        {
            if (stage == YieldStage.Waited && !o.Free) continue;
            sum += o.Connections;
            count++;
        }
        return (long)me.Connections * count <= sum;
    }
}
