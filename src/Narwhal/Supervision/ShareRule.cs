namespace Narwhal.Supervision;

/// <summary>What a worker publishes to the others for the accept decision (<see cref="AcceptShares"/>).</summary>
internal readonly record struct SharePeer(bool Free, int Connections);

/// <summary>
/// Whether a worker takes a waiting connection at once or leaves it a moment to the other
/// workers polling the same socket (issue 13: each worker's share of connections within 25 %
/// of the mean, whatever the client does). The candidates are the workers that could start
/// the connection's request now (a free thread, or an event loop below --worker-connections);
/// when none can, every accepting worker. Among the candidates, a worker takes it at once when
/// its open connections are at most their mean: the worker with the fewest always may, so
/// someone always takes it, and with a burst opened at once (wrk's 32 keep-alive connections,
/// which piled onto the worker whose accept thread woke first) the workers take turns, none
/// more than one connection ahead of the last. (Rounding the mean up, as first planned, let one
/// of four workers run three ahead: 5/4/4/2 out of 15.) A worker that is
/// not a candidate, or above the mean, yields; if no one takes the connection in that time it
/// takes it anyway, so a peer that looks free but does not accept delays nobody beyond the
/// yield.
/// </summary>
internal static class ShareRule
{
    /// <summary>True when <paramref name="me"/> should take the waiting connection now; <paramref name="others"/> are the other accepting workers.</summary>
    public static bool TakesNow(SharePeer me, ReadOnlySpan<SharePeer> others)
    {
        var otherFree = false;
        foreach (var o in others) otherFree |= o.Free;
        // Taken here, its request would wait while another worker could start it now.
        if (!me.Free && otherFree) return false;
        long sum = me.Connections;
        var count = 1;
        foreach (var o in others)
        {
            if (me.Free && !o.Free) continue; // busy workers are no candidates while a free one is
            sum += o.Connections;
            count++;
        }
        return (long)me.Connections * count <= sum;
    }
}
