using Narwhal.Posix;
using Narwhal.Supervision;

namespace Narwhal.Master;

/// <summary>
/// --max-worker-rss: which workers to replace for their memory. The master, not the worker,
/// reads each serving worker's RSS from /proc once a second, so a worker stuck in a request or
/// in its own GC is seen too. A worker is replaced once it is over the limit on
/// <see cref="ChecksOver"/> checks in a row: one reading can catch a moment (a large body being
/// read, garbage the next collection frees) rather than a worker that has grown, and a
/// replacement costs an app load. The arbiter retires it through the rolling replacement of
/// --max-requests: its successor is ready before it is told to stop. Runs on the loop thread.
/// </summary>
internal sealed class RssLimit(TimeProvider time)
{
    public static readonly TimeSpan Every = TimeSpan.FromSeconds(1);
    public const int ChecksOver = 2;
    private const long MiB = 1024 * 1024;
    private Deadline _next;

    /// <summary>The workers to replace now, with their RSS in bytes; empty between checks or when <paramref name="limitMiB"/> is 0.</summary>
    public List<(ChildWorker Worker, long Rss)> Exceeded(IEnumerable<ChildWorker> workers, int limitMiB)
    {
        if (limitMiB <= 0 || !_next.HasPassed(time)) return [];
        _next = Deadline.After(Every, time);
        var exceeded = new List<(ChildWorker, long)>();
        foreach (var w in workers)
        {
            // Booting ones are not counted yet; retiring ones are already being replaced.
            if (!w.Ready || w.Retiring || ResidentMemory.Of(w.Pid) is not { } rss) continue;
            (w.RssChecksOver, var replace) = Check(w.RssChecksOver, rss, limitMiB * MiB);
            if (replace) exceeded.Add((w, rss));
        }
        return exceeded;
    }

    /// <summary>One reading: the checks in a row over the limit, this one counted, and whether that is enough to replace the worker.</summary>
    internal static (int ChecksOver, bool Replace) Check(int checksOver, long rss, long limit)
    {
        var over = rss > limit ? checksOver + 1 : 0;
        return (over, over >= ChecksOver);
    }

    public static long ToMiB(long bytes) => bytes / MiB;
}
