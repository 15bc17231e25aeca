using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;
using Narwhal.Posix;

namespace Narwhal.Supervision;

/// <summary>What a worker tells the master through its heartbeat file.</summary>
internal enum WorkerState
{
    /// <summary>Loading the app; not serving yet.</summary>
    Booting = 0,
    /// <summary>Accepting and serving.</summary>
    Serving = 1,
    /// <summary>A request ran past --timeout: the worker stopped accepting and is finishing its other requests.</summary>
    TimedOut = 2,
}

/// <summary>
/// The channel from a worker to the master: a small unlinked file (Gunicorn's WorkerTmp,
/// in --worker-tmp-dir) that the master creates and the worker inherits. The worker rewrites
/// it on each of its 200 ms ticks; the master reads it on each of its own. One pwrite/pread
/// each, no locks: a torn read is at worst one tick stale.
/// <code>
/// 0  int64  last beat, a TimeProvider timestamp: in production TimeProvider.System's, which is
///           Stopwatch's CLOCK_MONOTONIC, the same clock in every process
/// 8  int32  WorkerState
/// 12 int32  replacement requests so far (max-requests reached, a watched file changed)
/// 16 int64  requests handled
/// 24 ...    request metrics, with --metrics-bind (<see cref="Metrics.RequestMetrics"/>)
/// </code>
/// </summary>
internal sealed class Heartbeat : IDisposable
{
    private const int Size = 24;
    private readonly SafeFileHandle _file;

    private Heartbeat(SafeFileHandle file) => _file = file;

    public int Fd => (int)_file.DangerousGetHandle();

    /// <summary>Master side: a fresh file owned by the worker's user, already unlinked.</summary>
    public static Heartbeat Create(string? directory, int umask, int uid, int gid, TimeProvider time)
    {
        var dir = string.IsNullOrEmpty(directory) ? Path.GetTempPath() : directory;
        var path = Path.Combine(dir, $"wnarwhal-{Guid.NewGuid():N}");
        var old = Unix.SetUmask(umask);
        SafeFileHandle file;
        try
        {
            file = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite);
        }
        finally
        {
            Unix.SetUmask(old);
        }
        try
        {
            if (uid != Unix.EffectiveUserId || gid != Unix.EffectiveGroupId) Unix.Chown(path, uid, gid);
        }
        finally
        {
            File.Delete(path);
        }
        var beat = new Heartbeat(file);
        beat.Write(time.GetTimestamp(), WorkerState.Booting, 0, 0);
        return beat;
    }

    /// <summary>Worker side: the file the master handed over.</summary>
    public static Heartbeat Open(int fd) => new(new SafeFileHandle(fd, ownsHandle: true));

    public void Write(long beat, WorkerState state, int replaceRequests, long handled, long? inFlight = null)
    {
        Span<byte> record = stackalloc byte[Size + Metrics.RequestMetrics.BlockSize];
        if (inFlight is { } n) Metrics.RequestMetrics.WriteTo(record[Size..], n);
        else record = record[..Size];
        BinaryPrimitives.WriteInt64LittleEndian(record, beat);
        BinaryPrimitives.WriteInt32LittleEndian(record[8..], (int)state);
        BinaryPrimitives.WriteInt32LittleEndian(record[12..], replaceRequests);
        BinaryPrimitives.WriteInt64LittleEndian(record[16..], handled);
        RandomAccess.Write(_file, record, 0);
    }

    /// <summary>What the worker wrote last; all zero (booting, never beaten) if it wrote nothing readable.</summary>
    public HeartbeatReading Read()
    {
        Span<byte> record = stackalloc byte[Size];
        if (RandomAccess.Read(_file, record, 0) < Size) return default;
        return new(BinaryPrimitives.ReadInt64LittleEndian(record),
            (WorkerState)BinaryPrimitives.ReadInt32LittleEndian(record[8..]),
            BinaryPrimitives.ReadInt32LittleEndian(record[12..]),
            BinaryPrimitives.ReadInt64LittleEndian(record[16..]));
    }

    /// <summary>The request metrics block; false if the worker writes none (yet).</summary>
    public bool ReadMetrics(Span<byte> block) =>
        RandomAccess.Read(_file, block[..Metrics.RequestMetrics.BlockSize], Size) == Metrics.RequestMetrics.BlockSize;

    public void Dispose() => _file.Dispose();
}
