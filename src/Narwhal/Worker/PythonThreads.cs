using System.Collections.Concurrent;
using Narwhal.Http;
using Narwhal.Logging;
using Narwhal.Python;
using Narwhal.Wsgi;

namespace Narwhal.Worker;

/// <summary>
/// N dedicated Python threads (<c>--threads</c>), each with one permanent thread state,
/// fed from a queue by Kestrel. Kestrel threads never take the GIL, and there is no
/// per-request PyGILState_Ensure/Release. A thread waiting for work holds no GIL, so
/// threads the app starts keep running; under load it keeps the GIL from one request
/// to the next instead of handing it back and forth.
/// </summary>
internal sealed class PythonThreads : IAcceptGate
{
    private readonly WsgiRuntime _runtime;
    private readonly ConcurrentQueue<Exchange> _queue = new();
    // Not a SemaphoreSlim: its Wait spins (sched_yield, Sleep(0)) before it blocks, and a thread
    // idle between two keep-alive requests spun for nothing, 8 % of a streaming worker's CPU
    // samples, on cores the other workers need. The next request is a network round trip away.
    private readonly Semaphore _ready = new(0, int.MaxValue);
    private readonly Thread[] _threads;
    // Per thread: its current request and when it started. The watchdog reads these to find
    // a request stuck past --timeout.
    private readonly RunningRequests<Exchange> _running;
    private long _handled;
    // Requests queued or running; the accept loop holds back while it is >= the thread count.
    private int _inFlight;
    private readonly ManualResetEventSlim _capacity = new(true);
    private volatile bool _stopping;

    /// <summary>Called once, from a Python thread, when the number of handled requests reaches <see cref="RequestLimit"/>.</summary>
    public Action? RequestLimitReached { get; set; }

    /// <summary>--max-requests (with its jitter) for this worker; 0 for no limit.</summary>
    public long RequestLimit { get; set; }

    public long Handled => Interlocked.Read(ref _handled);

    /// <summary>Requests queued or running in Python now.</summary>
    public long InFlight => Volatile.Read(ref _inFlight);

    public PythonThreads(WsgiRuntime runtime, int count)
    {
        _runtime = runtime;
        ExchangeTable.Init(count);
        _threads = new Thread[count];
        _running = new RunningRequests<Exchange>(count, TimeProvider.System);
        for (var i = 0; i < count; i++)
        {
            var slot = i;
            _threads[i] = new Thread(() => Run(slot)) { IsBackground = true, Name = $"python-{i}" };
        }
    }

    public void Start()
    {
        foreach (var t in _threads) t.Start();
    }

    /// <summary>The oldest request still running in Python, if it has run for longer than <paramref name="limit"/>.</summary>
    public (Exchange Exchange, TimeSpan Age)? OldestRunning(TimeSpan limit) => _running.Oldest(limit);

    /// <summary>How many threads are running a request that has run for longer than <paramref name="limit"/>.</summary>
    public int RunningLongerThan(TimeSpan limit) => _running.CountLongerThan(limit);

    /// <summary>
    /// Waits until this worker may take one more connection; false on timeout. The accept
    /// loop waits on it, so a worker whose every thread is held by a slow or stuck request
    /// leaves new connections in the kernel queue for another worker (as Gunicorn's sync
    /// workers do by accepting only when idle) instead of queueing them behind that request.
    /// Requests that are merely queued behind fast ones do not stop accepting: that would
    /// starve new connections whenever keep-alive clients keep every thread busy. Whether
    /// to accept at once or to leave the connection to a free worker first is
    /// <see cref="HasFreeThread"/>'s question.
    /// </summary>
    public bool WaitForCapacity(TimeSpan timeout)
    {
        if (HasCapacity) return true;
        _capacity.Reset();
        return HasCapacity || _capacity.Wait(timeout);
    }

    private bool HasCapacity =>
        Volatile.Read(ref _inFlight) < _threads.Length || _running.CountLongerThan(Slow) < _threads.Length;

    /// <summary>
    /// True when a thread is free for one more request, counting <paramref name="unstarted"/>
    /// connections accepted whose first request has not arrived yet (each will want a thread).
    /// </summary>
    public bool HasFreeThread(int unstarted) => Volatile.Read(ref _inFlight) + unstarted < _threads.Length;

    // A request running longer than this counts as holding its thread.
    private static readonly TimeSpan Slow = TimeSpan.FromMilliseconds(50);

    private void Released()
    {
        Interlocked.Decrement(ref _inFlight);
        if (!_capacity.IsSet) _capacity.Set();
    }

    public void Enqueue(Exchange exchange)
    {
        Interlocked.Increment(ref _inFlight);
        _queue.Enqueue(exchange);
        _ready.Release();
    }

    /// <summary>Lets each thread finish its current request, then stop; true if all did within the timeout.</summary>
    public bool Stop(TimeSpan timeout)
    {
        _stopping = true;
        _ready.Release(_threads.Length);
        var deadline = DateTime.UtcNow + timeout;
        foreach (var t in _threads)
        {
            var left = deadline - DateTime.UtcNow;
            if (left < TimeSpan.Zero || !t.Join(left)) return false;
        }
        return true;
    }

    private void Run(int slot)
    {
        var thread = Gil.Attach();
        try
        {
            while (!_stopping)
            {
                if (!_queue.TryDequeue(out var exchange))
                {
                    _ready.WaitOne();
                    continue;
                }
                thread.Resume();
                try
                {
                    do Serve(slot, exchange);
                    while (!_stopping && _queue.TryDequeue(out exchange));
                }
                finally
                {
                    thread.Pause();
                }
            }
        }
        finally
        {
            thread.Dispose();
        }
    }

    private void Serve(int slot, Exchange exchange)
    {
        ExchangeTable.Register(slot, exchange);
        _running.Begin(slot, exchange);
        if (Interlocked.Increment(ref _handled) == RequestLimit) RequestLimitReached?.Invoke();
        var outcome = ExchangeOutcome.Fail;
        try
        {
            outcome = _runtime.Handle(exchange);
        }
        catch (Exception e)
        {
            var detail = e is PythonException pe ? pe.PythonTraceback : e.ToString();
            ErrorLog.Error($"Error handling request {exchange.RawTarget}\n{detail}");
        }
        finally
        {
            ExchangeTable.Unregister(slot);
            _running.End(slot);
            Released();
            exchange.Complete(outcome);
        }
    }
}
