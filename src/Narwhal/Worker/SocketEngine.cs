namespace Narwhal.Worker;

/// <summary>How .NET's socket engine hands socket events to Kestrel; set once, before the first socket.</summary>
internal static class SocketEngine
{
    private const string InlineCompletions = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>
    /// Socket completions run on the epoll threads (one per core) instead of being queued to
    /// the thread pool. Queued, every request took one more thread-pool wake-up on each side:
    /// hello at -w 2 under wrk -t2 -c32 cost 48 us of CPU per request against 34 inline, and
    /// the extra threads waking on the shared cores pushed the co-located client's p99 to
    /// 15-55 ms against 2.4-5 (that tail is mostly the client's own scheduling: see
    /// bench/run's CLIENT_PRIORITY; Narwhal's own request times stay under 10 ms). Kestrel's own
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
