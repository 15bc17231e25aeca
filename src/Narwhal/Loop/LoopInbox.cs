using System.Collections.Concurrent;
using Narwhal.Posix;
using Narwhal.Python;

namespace Narwhal.Loop;

/// <summary>What a Kestrel or thread-pool thread tells the event loop.</summary>
internal enum LoopEventKind
{
    /// <summary>A new HTTP request or WebSocket handshake.</summary>
    Request,
    /// <summary>An awaited body read finished (its bytes are in the cycle).</summary>
    BodyRead,
    /// <summary>An awaited flush (or WebSocket send) finished.</summary>
    Flushed,
    /// <summary>The client left.</summary>
    Disconnected,
    /// <summary>The WebSocket handshake answered (accepted) or failed.</summary>
    Accepted,
    /// <summary>A whole WebSocket message arrived.</summary>
    Message,
    /// <summary>The WebSocket is closed, with a code.</summary>
    Closed,
    /// <summary>The worker is stopping: stop serving, run lifespan shutdown, return.</summary>
    Stop,
    /// <summary>The watchdog's tick: a loop that takes it is not stuck.</summary>
    Ping,
    /// <summary>Python to run on the loop for another thread (a hook, a log line): a <see cref="LoopCall"/>.</summary>
    Call,
    /// <summary>A file sent to the client (payload: the bytes sent, -1 when it failed).</summary>
    FileSent,
}

/// <summary>
/// Python code another thread has the loop run: <see cref="Build"/>, called on the loop
/// thread with the GIL held, makes the callable and its argument tuple; <see cref="Done"/>
/// is set once the glue has run it (or the loop stopped without running it).
/// </summary>
internal sealed class LoopCall(Func<(PyStored Fn, PyStored Args)> build)
{
    private readonly ManualResetEventSlim _done = new(false);

    public (PyStored Fn, PyStored Args) Build() => build();

    public void Finish() => _done.Set();

    public bool Wait(TimeSpan limit) => _done.Wait(limit);
}

internal readonly record struct LoopEvent(LoopEventKind Kind, LoopCycle? Cycle, object? Payload = null, int Code = 0);

/// <summary>
/// The one way into the event loop from other threads: a lock-free queue plus one eventfd
/// the loop watches. The fd is written only when the loop is not already due to wake, so a
/// burst of events costs one wake-up and one write(2); the loop takes them in batches.
/// </summary>
internal sealed class LoopInbox : IDisposable
{
    // Taken per wake-up at most; the rest waits for the next turn, so I/O callbacks and
    // timers interleave with a flood of new requests.
    public const int Batch = 512;

    private readonly ConcurrentQueue<LoopEvent> _queue = new();
    private readonly EventFd _wake = new();
    private int _signalled;

    public int Fd => _wake.Fd;

    public void Post(LoopEvent e)
    {
        _queue.Enqueue(e);
        if (Interlocked.Exchange(ref _signalled, 1) == 0) _wake.Signal();
    }

    /// <summary>
    /// On the loop thread: takes up to <see cref="Batch"/> events. The flag drops before the
    /// queue is read, so an event posted meanwhile signals again rather than waiting unseen.
    /// </summary>
    public int Take(List<LoopEvent> into)
    {
        _wake.Clear();
        Volatile.Write(ref _signalled, 0);
        var n = 0;
        while (n < Batch && _queue.TryDequeue(out var e))
        {
            into.Add(e);
            n++;
        }
        if (n == Batch && !_queue.IsEmpty && Interlocked.Exchange(ref _signalled, 1) == 0) _wake.Signal();
        return n;
    }

    public void Dispose() => _wake.Dispose();
}
