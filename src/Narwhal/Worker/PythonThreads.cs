using System.Collections.Concurrent;
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
internal sealed class PythonThreads
{
    private readonly WsgiRuntime _runtime;
    private readonly ConcurrentQueue<KestrelExchange> _queue = new();
    private readonly SemaphoreSlim _ready = new(0);
    private readonly Thread[] _threads;
    private volatile bool _stopping;

    public PythonThreads(WsgiRuntime runtime, int count)
    {
        _runtime = runtime;
        ExchangeTable.Init(count);
        _threads = new Thread[count];
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

    public void Enqueue(KestrelExchange exchange)
    {
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
        var gilState = Native.PyGILState_Ensure();
        var threadState = Native.PyEval_SaveThread();
        try
        {
            while (!_stopping)
            {
                if (!_queue.TryDequeue(out var exchange))
                {
                    _ready.Wait();
                    continue;
                }
                Native.PyEval_RestoreThread(threadState);
                try
                {
                    do Serve(slot, exchange);
                    while (!_stopping && _queue.TryDequeue(out exchange));
                }
                finally
                {
                    threadState = Native.PyEval_SaveThread();
                }
            }
        }
        finally
        {
            Native.PyEval_RestoreThread(threadState);
            Native.PyGILState_Release(gilState);
        }
    }

    private void Serve(int slot, KestrelExchange exchange)
    {
        ExchangeTable.Register(slot, exchange);
        var outcome = WsgiOutcome.Fail;
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
            exchange.Complete(outcome);
        }
    }
}
