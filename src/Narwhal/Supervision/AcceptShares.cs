using Narwhal.Posix;

namespace Narwhal.Supervision;

/// <summary>
/// The table the workers of one master share to spread connections evenly (issue 13): one
/// small shared memory region (memfd) that the master creates and every worker inherits, a
/// slot per worker, handed out at spawn and cleared when the worker is gone. Each worker
/// writes its own slot; its accept threads read every slot before taking a connection
/// (<see cref="ShareRule"/>). Plain volatile ints, no locks: a value one accept decision old
/// costs at most a yield.
/// <code>
/// 0          int32  slots in use: one past the highest slot the master handed out
/// 64 * (i+1) slot i, one cache line each (a worker's writes do not disturb the others' reads):
///   +0       int32  accepting: 1 while its accept threads run and it can take a connection
///   +4       int32  free: 1 if it could start a request at once when it last looked
///   +8       int32  open connections
/// </code>
/// </summary>
internal sealed class AcceptShares : IDisposable
{
    private const int Line = 64;
    private const int Accepting = 0, Free = 4, Connections = 8;

    /// <summary>Slots for this many workers alive at once (with the retiring ones); 8 KiB in all.</summary>
    public const int Capacity = 127;

    public const int Size = Line * (Capacity + 1);

    private readonly SharedMemory _memory;

    internal AcceptShares(SharedMemory memory) => _memory = memory;

    /// <summary>The descriptor a worker inherits (master side).</summary>
    public int Fd => _memory.Fd;

    /// <summary>Master side: a fresh table, every slot empty.</summary>
    public static AcceptShares Create() => new(SharedMemory.Create("narwhal-shares", Size));

    /// <summary>Worker side: maps the table the master handed over, then closes the descriptor (the app's children do not get it).</summary>
    public static AcceptShares Open(int fd)
    {
        var memory = SharedMemory.Open(fd, Size);
        memory.CloseDescriptor();
        return new AcceptShares(memory);
    }

    private int InUse => Math.Min(Volatile.Read(ref _memory.Int32At(0)), Capacity);

    private ref int Field(int slot, int field)
    {
        if ((uint)slot >= Capacity) throw new ArgumentOutOfRangeException(nameof(slot));
        return ref _memory.Int32At(Line * (slot + 1) + field);
    }

    /// <summary>Master side: an empty slot for a worker about to start.</summary>
    public void Assign(int slot)
    {
        Clear(slot);
        ref var inUse = ref _memory.Int32At(0);
        if (Volatile.Read(ref inUse) <= slot) Volatile.Write(ref inUse, slot + 1);
    }

    /// <summary>Master side: forgets a worker that exited (killed, it could not say it stopped).</summary>
    public void Clear(int slot)
    {
        Volatile.Write(ref Field(slot, Accepting), 0);
        Volatile.Write(ref Field(slot, Free), 0);
        Volatile.Write(ref Field(slot, Connections), 0);
    }

    public void Publish(int slot, bool accepting, bool free)
    {
        Volatile.Write(ref Field(slot, Free), free ? 1 : 0);
        Volatile.Write(ref Field(slot, Accepting), accepting ? 1 : 0);
    }

    public void Opened(int slot) => Interlocked.Increment(ref Field(slot, Connections));

    public void Closed(int slot) => Interlocked.Decrement(ref Field(slot, Connections));

    public SharePeer Read(int slot) => new(Volatile.Read(ref Field(slot, Free)) != 0, Volatile.Read(ref Field(slot, Connections)));

    public bool IsAccepting(int slot) => Volatile.Read(ref Field(slot, Accepting)) != 0;

    /// <summary>
    /// Whether the worker in <paramref name="slot"/>, <paramref name="free"/> or not, should take a
    /// waiting connection at once (<see cref="ShareRule"/>); publishes <paramref name="free"/> for
    /// the others on the way.
    /// </summary>
    public bool TakesNow(int slot, bool free, YieldStage stage = YieldStage.First)
    {
        Volatile.Write(ref Field(slot, Free), free ? 1 : 0);
        var inUse = InUse;
        Span<SharePeer> others = stackalloc SharePeer[inUse];
        var n = 0;
        for (var i = 0; i < inUse; i++)
            if (i != slot && IsAccepting(i)) others[n++] = Read(i);
        return ShareRule.TakesNow(new SharePeer(free, Volatile.Read(ref Field(slot, Connections))), others[..n], stage);
    }

    public void Dispose() => _memory.Dispose();
}
