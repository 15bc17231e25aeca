using System.Collections.Concurrent;
using System.Diagnostics;
using Narwhal.Http;
using Narwhal.Python;

namespace Narwhal.Asgi;

/// <summary>
/// The C# half of the asgi worker's bridge. Kestrel threads submit requests and the
/// watchdog pings through the <see cref="LoopInbox"/>; the loop thread drains it in batches
/// (<see cref="Drain"/>, one native call per wake-up) and holds the table from the ids Python
/// knows to their cycles. Nothing but the loop thread enters Python.
/// </summary>
internal sealed class AsgiServer(AsgiOptions options) : IDisposable
{
    public AsgiOptions Options { get; } = options;
    public LoopInbox Inbox { get; } = new();

    // Loop thread only.
    private readonly Dictionary<long, AsgiCycle> _cycles = [];
    private readonly List<LoopEvent> _batch = new(LoopInbox.Batch);
    private long _nextId;
    private ScopeBuilder? _scopes;

    private readonly ConcurrentDictionary<AsgiCycle, byte> _sockets = new();
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
    public AsgiCycle Submit(Exchange exchange)
    {
        var cycle = new AsgiCycle(exchange, Inbox, exchange.IsWebSocketRequest);
        Interlocked.Increment(ref _inFlight);
        Inbox.Post(new(LoopEventKind.Request, cycle));
        return cycle;
    }

    public void Ping() => Inbox.Post(new(LoopEventKind.Ping, null));

    /// <summary>Asks the loop to stop serving, cancel what still runs and run lifespan shutdown.</summary>
    public void Stop() => Inbox.Post(new(LoopEventKind.Stop, null));

    /// <summary>Waits until the app's lifespan startup is done and the loop serves.</summary>
    public bool WaitReady(TimeSpan timeout) => _ready.Wait(timeout);

    /// <summary>Sends every open WebSocket a close frame (1012 "service restart" at the end of a graceful stop).</summary>
    public void CloseWebSockets(int code, string reason)
    {
        foreach (var socket in _sockets.Keys) _ = socket.CloseAsync(code, reason);
    }

    public int OpenWebSockets => _sockets.Count;

    // ---- loop thread, GIL held ----

    public void Ready() => _ready.Set();

    public void Opened(AsgiCycle cycle) => _sockets[cycle] = 0;

    public AsgiCycle? Find(long id) => _cycles.GetValueOrDefault(id);

    /// <summary>The app is done with the cycle: its id is forgotten and the exchange goes back to Kestrel.</summary>
    public void Complete(AsgiCycle cycle, ExchangeOutcome outcome)
    {
        if (!_cycles.Remove(cycle.Id)) return;
        _sockets.TryRemove(cycle, out _);
        Interlocked.Decrement(ref _inFlight);
        cycle.Complete(outcome);
    }

    /// <summary>
    /// The events waiting, as a list of tuples for the glue:
    /// (0, id, scope, has_body, is_websocket) a request; (1, id, bytes|None, more) a body read;
    /// (2, id, ok) a flush or send; (3, id) a disconnect; (4, id, ok) a WebSocket accept;
    /// (5, id, str|bytes) a message; (6, id, code) a WebSocket closed; (7, 0) stop.
    /// </summary>
    public PyOwned Drain()
    {
        Volatile.Write(ref _lastDrain, Stopwatch.GetTimestamp());
        _scopes ??= new ScopeBuilder(Options.RootPath);
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
            var cycle = e.Cycle!;
            if (e.Kind == LoopEventKind.Request)
            {
                cycle.Id = ++_nextId;
                _cycles[cycle.Id] = cycle;
                cycle.WatchDisconnect();
                if (Interlocked.Increment(ref _handled) == RequestLimit) RequestLimitReached?.Invoke();
                using var scope = _scopes.Build(cycle.Exchange, cycle.IsWebSocket);
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
