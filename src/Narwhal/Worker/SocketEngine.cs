namespace Narwhal.Worker;

/// <summary>How .NET's socket engine hands socket events to Kestrel; set once, before the first socket.</summary>
internal static class SocketEngine
{
    private const string InlineCompletions = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>
    /// Socket completions run on the epoll threads (one per core) instead of being queued to
    /// the thread pool. Queued, every request took one more thread hand-off on each side, and
    /// with the CPU shared (N workers on N cores, or the load generator beside them) a queued
    /// completion waited behind other runnable threads: hello at -w 2 under wrk -t2 -c32 had
    /// a p99 of 15-55 ms (3 % of requests waited 15-100 ms before Kestrel saw them), where
    /// inline it was 2.7-5 ms, and 48 -> 34 us of CPU per request. Kestrel's own
    /// UnsafePreferInlineScheduling, which also runs request parsing on those threads, made
    /// the tail worse again (13-28 ms p99) and stays off. The engine reads the variable once,
    /// when it starts; .NET's environment is its own copy (the C environment, os.environ,
    /// does not change). An explicit value in the environment (0 to turn it off) is kept.
    /// </summary>
    public static void PreferInlineCompletions()
    {
        if (Environment.GetEnvironmentVariable(InlineCompletions) != null) return;
        Environment.SetEnvironmentVariable(InlineCompletions, "1");
        _setHere = true;
    }

    private static bool _setHere;

    /// <summary>
    /// Keeps the value this process set for itself out of a child's environment (a child
    /// inherits .NET's copy): each worker sets it again, and the app, and the programs it
    /// starts, never see it.
    /// </summary>
    public static void LeaveOut(IDictionary<string, string?> environment)
    {
        if (_setHere) environment.Remove(InlineCompletions);
    }
}
