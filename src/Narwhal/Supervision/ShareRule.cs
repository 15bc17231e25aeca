namespace Narwhal.Supervision;

/// <summary>What a worker publishes to the others for the accept decision (<see cref="AcceptShares"/>).</summary>
internal readonly record struct SharePeer(bool Free, int Connections);

/// <summary>
/// Whether a worker takes a waiting connection at once or leaves it a moment to the other
/// workers polling the same socket (issue 13: each worker's share of connections within 25 %
/// of the mean, whatever the client does). Two rules, both of which must allow it:
/// <list type="bullet">
/// <item>the free-thread rule, as before the shares: a worker that cannot start the
/// connection's request now (no free thread; an event loop at --worker-connections) leaves it
/// to one that can, even when no other worker says it can (one may be about to start
/// accepting);</item>
/// <item>the share rule: among the workers that could start it now, this one's open
/// connections are at most their mean. The one with the fewest always may, so someone takes
/// it; in a burst opened at once (wrk's 32 keep-alive connections, which piled onto the worker
/// whose accept thread woke first) the workers take turns, none more than one connection
/// ahead of the last. (The mean rounded up, as first planned, let one of four workers run
/// three ahead: 5/4/4/2 out of 15.)</item>
/// </list>
/// After a yield in vain (no one took the connection: every worker is busy), the free-thread
/// rule is moot and the share rule counts every accepting worker, so the queue a burst leaves
/// behind busy workers is still shared out in turns instead of going to whichever yield ended
/// first.
/// </summary>
internal static class ShareRule
{
    /// <summary>
    /// True when <paramref name="me"/> should take the waiting connection now; <paramref name="others"/>
    /// are the other accepting workers; <paramref name="othersBusy"/> when a yield was just in vain.
    /// </summary>
    public static bool TakesNow(SharePeer me, ReadOnlySpan<SharePeer> others, bool othersBusy = false)
    {
        // Taken here, its request would wait while another worker may start it now.
        if (!me.Free && !othersBusy) return false;
        long sum = me.Connections;
        var count = 1;
        foreach (var o in others)
        {
            if (!o.Free && !othersBusy) continue; // busy workers are no candidates while this one is free
            sum += o.Connections;
            count++;
        }
        return (long)me.Connections * count <= sum;
    }
}
