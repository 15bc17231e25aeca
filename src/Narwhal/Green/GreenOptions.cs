using Narwhal.Http;
using Narwhal.Settings;

namespace Narwhal.Green;

/// <summary>The green workers' settings, read once at start.</summary>
/// <param name="Library">"gevent" or "eventlet": the library whose hub runs the requests.</param>
/// <param name="Concurrency">--worker-connections: requests running at once (Gunicorn's pool size); 0 for no bound.</param>
internal sealed record GreenOptions(string Library, int Concurrency, bool Sendfile, bool Multiprocess, HeaderMap HeaderMap,
    IReadOnlyList<string> LoggedKeys)
{
    public static GreenOptions From(Config config, WorkerKind kind, RequestRules rules, IReadOnlyList<string> loggedKeys) => new(
        GreenPatch.LibraryOf(kind),
        config.Get(CompatSettings.WorkerConnections),
        config.Get(CompatSettings.Sendfile),
        config.Get(ProcessSettings.Workers) > 1,
        rules.HeaderMap,
        loggedKeys);
}
