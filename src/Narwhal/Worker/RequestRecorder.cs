using Narwhal.Logging;
using Narwhal.Metrics;

namespace Narwhal.Worker;

/// <summary>
/// Where an answered request is recorded: the access log, statsd and the Prometheus
/// counters, whichever this worker has on. Made once, after logging is set up; every protocol
/// adapter's requests go through it, so none of them reads the logging globals.
/// </summary>
internal sealed class RequestRecorder(AccessLog? accessLog, Statsd? statsd, bool metrics)
{
    public static RequestRecorder FromLogging() => new(AccessLog.Current, Statsd.Current, RequestMetrics.Enabled);

    /// <summary>False when nothing records requests: the record is then not even built.</summary>
    public bool On { get; } = accessLog != null || statsd != null || metrics;

    /// <summary>The environ keys the access format reads (<c>{key}e</c> atoms); the WSGI adapter collects them.</summary>
    public IReadOnlyList<string> EnvironKeys => accessLog?.Format.EnvironKeys ?? [];

    public void Record(AccessRecord record)
    {
        if (metrics) RequestMetrics.Record(record.Status, record.Duration);
        statsd?.Request(record.Status, record.Duration);
        accessLog?.Write(record);
    }
}
