using System.Collections.Concurrent;
using System.Diagnostics;
using Narwhal.Http;
using Narwhal.Python;

namespace Narwhal.Loop;

/// <summary>What a request is for the app's side of the loop: an ASGI scope, a WSGI environ.</summary>
internal interface IRequestEncoder
{
    /// <summary>Loop thread, GIL held: the Python object the glue's request event carries.</summary>
    PyOwned Encode(LoopCycle cycle);
}

/// <summary>
/// The C# half of an event-loop worker's bridge (asgi, gevent, eventlet, tornado). Kestrel
/// threads submit requests and the watchdog pings through the <see cref="LoopInbox"/>; the
/// loop thread drains it in batches (<see cref="Drain"/>, one native call per wake-up) and
/// holds the table from the ids Python knows to their cycles. Nothing but the loop thread
/// enters Python: other threads that need Python (hooks, a Python logger) post a
/// <see cref="LoopCall"/>, which the loop runs as Python code of its own.
/// </summary>
internal sealed class LoopServer : IDisposable
{
    public LoopInbox Inbox { get; } = new();

    /// <summary>Set by the runtime once its glue is loaded (GIL held), before the loop serves.</summary>
    public IRequestEncoder? Encoder { get; set; }

    // Loop thread only.
    private readonly Dictionary<long, LoopCycle> _cycles = [];
    private readonly List<LoopEvent> _batch = new(LoopInbox.Batch);
    private readonly Dictionary<long, LoopCall> _calls = [];
    private long _nextId;
    private long _nextCall;
    private volatile bool _serving;

    private readonly ConcurrentDictionary<LoopCycle, byte> _sockets = new();
    private readonly ManualResetEventSlim _ready = new(false);
    private long _lastDrain = Stopwatch.GetTimestamp();
    private int _inFlight;
    private long _handled;

    /// <summary>Called on the loop thread when the number of requests taken reaches <see cref="RequestLimit"/>.</summary>
    public Action? RequestLimitReached { get; set; }
    public long RequestLimit { get; set; }

    public long Handled => Interlocked.Read(ref _handled);
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>How long since the loop last took its events (the watchdog pings it every tick).</summary>
    public TimeSpan SinceLastDrain => Stopwatch.GetElapsedTime(Volatile.Read(ref _lastDrain));

    // ---- any thread ----

    /// <summary>Kestrel thread: hands a request to the loop.</summary>
    public LoopCycle Submit(Exchange exchange)
    {
        var cycle = new LoopCycle(exchange, Inbox, exchange.IsWebSocketRequest);
        Interlocked.Increment(ref _inFlight);
        Inbox.Post(new(LoopEventKind.Request, cycle));
        return cycle;
    }

    public void Ping() => Inbox.Post(new(LoopEventKind.Ping, null));

    /// <summary>Asks the loop to stop serving, cancel what still runs and run lifespan shutdown.</summary>
    public void Stop() => Inbox.Post(new(LoopEventKind.Stop, null));

    /// <summary>
    /// Any thread: has the loop run <paramref name="call"/> as Python code of its own (in a
    /// task or greenlet, where it may block cooperatively). False when the loop is not serving
    /// (before it is ready, after it stopped): the caller then does without the loop.
    /// </summary>
    public bool Post(LoopCall call)
    {
        if (!_serving) return false;
        Inbox.Post(new(LoopEventKind.Call, null, call));
        return true;
    }

    /// <summary>Loop thread: the loop has stopped taking events (calls posted from now on are refused).</summary>
    public void Stopped()
    {
        _serving = false;
        foreach (var call in _calls.Values) call.Finish();
        _calls.Clear();
    }

    /// <summary>Waits until the app's lifespan startup is done and the loop serves.</summary>
    public bool WaitReady(TimeSpan timeout) => _ready.Wait(timeout);

    /// <summary>Sends every open WebSocket a close frame (1012 "service restart" at the end of a graceful stop).</summary>
    public void CloseWebSockets(int code, string reason)
    {
        foreach (var socket in _sockets.Keys) _ = socket.CloseAsync(code, reason);
    }

    public int OpenWebSockets => _sockets.Count;

    // ---- loop thread, GIL held ----

    public void Ready()
    {
        _serving = true;
        _ready.Set();
    }

    /// <summary>Loop thread: the glue ran the call with this token.</summary>
    public void Called(long token)
    {
        if (_calls.Remove(token, out var call)) call.Finish();
    }

    public void Opened(LoopCycle cycle) => _sockets[cycle] = 0;

    public LoopCycle? Find(long id) => _cycles.GetValueOrDefault(id);

    /// <summary>The app is done with the cycle: its id is forgotten and the exchange goes back to Kestrel.</summary>
    public void Complete(LoopCycle cycle, ExchangeOutcome outcome)
    {
        if (!_cycles.Remove(cycle.Id)) return;
        _sockets.TryRemove(cycle, out _);
        Interlocked.Decrement(ref _inFlight);
        cycle.Complete(outcome);
    }

    /// <summary>
    /// The events waiting, as a list of tuples for the glue:
    /// (0, id, scope|environ, has_body, is_websocket) a request; (1, id, bytes|None, more) a body read;
    /// (2, id, ok) a flush or send; (3, id) a disconnect; (4, id, ok) a WebSocket accept;
    /// (5, id, str|bytes) a message; (6, id, code) a WebSocket closed; (7, 0) stop;
    /// (8, token, callable, args) a call from another thread; (9, id, bytes sent|-1) a file sent.
    /// </summary>
    public PyOwned Drain()
    {
        Volatile.Write(ref _lastDrain, Stopwatch.GetTimestamp());
        _batch.Clear();
        Inbox.Take(_batch);
        var list = Containers.List();
        foreach (var e in _batch)
        {
            if (e.Kind == LoopEventKind.Ping) continue;
            if (e.Kind == LoopEventKind.Stop)
            {
                Append(list, 7, 0);
                continue;
            }
            if (e.Kind == LoopEventKind.Call)
            {
                AppendCall(list, (LoopCall)e.Payload!);
                continue;
            }
            var cycle = e.Cycle!;
            if (e.Kind == LoopEventKind.Request)
            {
                cycle.Id = ++_nextId;
                // wsgi.input finds its request by the exchange's id.
                cycle.Exchange.Id = cycle.Id;
                _cycles[cycle.Id] = cycle;
                cycle.WatchDisconnect();
                if (Interlocked.Increment(ref _handled) == RequestLimit) RequestLimitReached?.Invoke();
                using var scope = Encoder!.Encode(cycle);
                using var kind = Interop.Long(0);
                using var id = Interop.Long(cycle.Id);
                using var hasBody = Interop.Bool(cycle.Exchange.HasBody);
                using var ws = Interop.Bool(cycle.IsWebSocket);
                using var tuple = Containers.Tuple(kind, id, scope, hasBody, ws);
                Containers.Append(list, tuple);
                continue;
            }
            if (!_cycles.ContainsKey(cycle.Id)) continue; // the app is done with it already
            switch (e.Kind)
            {
                case LoopEventKind.BodyRead:
                {
                    using var kind = Interop.Long(1);
                    using var id = Interop.Long(cycle.Id);
                    using var data = cycle.PendingReadFailed ? Interop.NewNone() : Interop.Bytes(cycle.Buffered(cycle.PendingRead));
                    using var more = Interop.Bool(!cycle.PendingReadFailed && cycle.MoreBody(cycle.PendingRead));
                    using var tuple = Containers.Tuple(kind, id, data, more);
                    Containers.Append(list, tuple);
                    break;
                }
                case LoopEventKind.Flushed: Append(list, 2, cycle.Id, e.Code != 0); break;
                case LoopEventKind.Disconnected: Append(list, 3, cycle.Id); break;
                case LoopEventKind.Accepted: Append(list, 4, cycle.Id, e.Code != 0); break;
                case LoopEventKind.Message:
                {
                    using var kind = Interop.Long(5);
                    using var id = Interop.Long(cycle.Id);
                    using var data = e.Payload is string text ? Interop.Str(text) : Interop.Bytes((byte[])e.Payload!);
                    using var tuple = Containers.Tuple(kind, id, data);
                    Containers.Append(list, tuple);
                    break;
                }
                case LoopEventKind.FileSent:
                {
                    using var kind = Interop.Long(9);
                    using var id = Interop.Long(cycle.Id);
                    using var sent = Interop.Long((long)e.Payload!);
                    using var tuple = Containers.Tuple(kind, id, sent);
                    Containers.Append(list, tuple);
                    break;
                }
                case LoopEventKind.Closed:
                {
                    using var kind = Interop.Long(6);
                    using var id = Interop.Long(cycle.Id);
                    using var code = Interop.Long(e.Code);
                    using var tuple = Containers.Tuple(kind, id, code);
                    Containers.Append(list, tuple);
                    break;
                }
            }
        }
        return list;
    }

    private void AppendCall(PyBorrowed list, LoopCall call)
    {
        PyStored fn, args;
        try
        {
            (fn, args) = call.Build();
        }
        catch (PythonException)
        {
            call.Finish();
            return;
        }
        using (fn)
        using (args)
        {
            var token = ++_nextCall;
            _calls[token] = call;
            using var kind = Interop.Long(8);
            using var t = Interop.Long(token);
            using var tuple = Containers.Tuple(kind, t, fn, args);
            Containers.Append(list, tuple);
        }
    }

    private static void Append(PyBorrowed list, int kind, long id)
    {
        using var k = Interop.Long(kind);
        using var i = Interop.Long(id);
        using var tuple = Containers.Tuple(k, i);
        Containers.Append(list, tuple);
    }

    private static void Append(PyBorrowed list, int kind, long id, bool flag)
    {
        using var k = Interop.Long(kind);
        using var i = Interop.Long(id);
        using var f = Interop.Bool(flag);
        using var tuple = Containers.Tuple(k, i, f);
        Containers.Append(list, tuple);
    }

    public void Dispose() => Inbox.Dispose();
}
