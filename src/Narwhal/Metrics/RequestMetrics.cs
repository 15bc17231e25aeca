using System.Buffers.Binary;

namespace Narwhal.Metrics;

/// <summary>
/// A worker's request counters for --metrics-bind: latency histogram, status classes,
/// in-flight requests. Lock-free increments; the worker copies them into its heartbeat
/// file on every beat, and the master adds up the workers' copies.
/// <code>
/// 0    int64     requests in flight
/// 8    int64[12] latency buckets (cumulative at read time; stored per bucket)
/// 104  int64     sum of latencies, microseconds
/// 112  int64[5]  responses by status class 1xx..5xx
/// </code>
/// </summary>
internal static class RequestMetrics
{
    /// <summary>Bucket upper bounds in seconds, Prometheus' defaults plus 10 s; the last bucket is +Inf.</summary>
    public static readonly double[] Bounds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    public const int BlockSize = 8 + 12 * 8 + 8 + 5 * 8;

    private static readonly long[] _buckets = new long[Bounds.Length + 1];
    private static readonly long[] _statuses = new long[5];
    private static long _sumMicros;

    /// <summary>On in workers when --metrics-bind is set; off, nothing is counted.</summary>
    public static bool Enabled { get; set; }

    public static void Record(int status, TimeSpan duration)
    {
        var seconds = duration.TotalSeconds;
        var i = 0;
        while (i < Bounds.Length && seconds > Bounds[i]) i++;
        Interlocked.Increment(ref _buckets[i]);
        Interlocked.Add(ref _sumMicros, duration.Ticks / 10);
        if (status is >= 100 and < 600) Interlocked.Increment(ref _statuses[status / 100 - 1]);
    }

    public static void WriteTo(Span<byte> block, long inFlight)
    {
        BinaryPrimitives.WriteInt64LittleEndian(block, inFlight);
        for (var i = 0; i < _buckets.Length; i++)
            BinaryPrimitives.WriteInt64LittleEndian(block[(8 + i * 8)..], Interlocked.Read(ref _buckets[i]));
        BinaryPrimitives.WriteInt64LittleEndian(block[104..], Interlocked.Read(ref _sumMicros));
        for (var i = 0; i < _statuses.Length; i++)
            BinaryPrimitives.WriteInt64LittleEndian(block[(112 + i * 8)..], Interlocked.Read(ref _statuses[i]));
    }
}

/// <summary>The same block read back by the master; adds up across workers.</summary>
internal sealed class MetricsSnapshot
{
    public long InFlight;
    public readonly long[] Buckets = new long[RequestMetrics.Bounds.Length + 1];
    public long SumMicros;
    public readonly long[] Statuses = new long[5];

    public void Add(ReadOnlySpan<byte> block, bool includeInFlight = true)
    {
        if (includeInFlight) InFlight += BinaryPrimitives.ReadInt64LittleEndian(block);
        for (var i = 0; i < Buckets.Length; i++) Buckets[i] += BinaryPrimitives.ReadInt64LittleEndian(block[(8 + i * 8)..]);
        SumMicros += BinaryPrimitives.ReadInt64LittleEndian(block[104..]);
        for (var i = 0; i < Statuses.Length; i++) Statuses[i] += BinaryPrimitives.ReadInt64LittleEndian(block[(112 + i * 8)..]);
    }

    public void Add(MetricsSnapshot other)
    {
        for (var i = 0; i < Buckets.Length; i++) Buckets[i] += other.Buckets[i];
        SumMicros += other.SumMicros;
        for (var i = 0; i < Statuses.Length; i++) Statuses[i] += other.Statuses[i];
    }
}
