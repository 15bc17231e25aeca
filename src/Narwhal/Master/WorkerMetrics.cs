using Narwhal.Logging;
using Narwhal.Metrics;
using Narwhal.Supervision;

namespace Narwhal.Master;

/// <summary>
/// The master's sum of its workers' figures: the --metrics-bind page (every live worker's
/// counters, read from its heartbeat file, plus those of workers gone, and the restarts),
/// Gunicorn's gunicorn.workers statsd gauge, and the --max-worker-rss replacements (both).
/// Runs on the arbiter's loop thread.
/// </summary>
internal sealed class WorkerMetrics(TimeProvider time) : IDisposable
{
    private static readonly TimeSpan GaugeEvery = TimeSpan.FromSeconds(1);
    private PrometheusEndpoint? _endpoint;
    private readonly MetricsSnapshot _exited = new();
    private readonly byte[] _block = new byte[RequestMetrics.BlockSize];
    private long _restarts;
    private long _rssReplacements;
    private Deadline _nextGauge;

    /// <summary>Serves the page at <paramref name="bind"/> (a SocketException if it cannot).</summary>
    public void Serve(string bind) => _endpoint = PrometheusEndpoint.Start(bind);

    /// <summary>Refreshes the page from the live workers' heartbeat files.</summary>
    public void Update(IReadOnlyCollection<ChildWorker> workers)
    {
        if (_endpoint == null) return;
        var total = new MetricsSnapshot();
        total.Add(_exited);
        foreach (var w in workers)
            if (w.Heartbeat.ReadMetrics(_block)) total.Add(_block);
        _endpoint.Update(total, workers.Count, _restarts, _rssReplacements);
    }

    /// <summary>Keeps what a worker counted before it exited (its heartbeat still open); a restart unless the master is stopping.</summary>
    public void Exited(ChildWorker w, bool restart)
    {
        if (_endpoint != null && w.Heartbeat.ReadMetrics(_block)) _exited.Add(_block, includeInFlight: false);
        if (restart) _restarts++;
    }

    /// <summary>A worker retired for --max-worker-rss (Narwhal's own counter, so outside Gunicorn's gunicorn.* names).</summary>
    public void ReplacedForMemory()
    {
        _rssReplacements++;
        Statsd.Current?.Increment("narwhal.worker.rss_replacements");
    }

    /// <summary>Gunicorn's gunicorn.workers gauge, at most once a second.</summary>
    public void ReportWorkers(int count)
    {
        if (!_nextGauge.HasPassed(time)) return;
        _nextGauge = Deadline.After(GaugeEvery, time);
        Statsd.Current?.Gauge("gunicorn.workers", count);
    }

    public void Dispose() => _endpoint?.Dispose();
}
