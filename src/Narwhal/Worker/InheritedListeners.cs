using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging;
using Narwhal.Supervision;

namespace Narwhal.Worker;

/// <summary>
/// Kestrel's transport over the listening sockets this worker inherited from the master.
/// Unlike Kestrel's own socket transport:
/// <list type="bullet">
/// <item>it accepts only while a Python thread is free, so connections wait in the shared
/// kernel queue for an idle worker rather than behind a slow request here; a worker with
/// no free thread lets a moment pass before it takes a connection, so that a free worker
/// polling the same socket gets it first;</item>
/// <item>it keeps this worker's share of connections even with the others': with the master's
/// table of accept shares, a worker above the mean (<see cref="ShareRule"/>) leaves a waiting
/// connection to the others in the same way (issue 13: a burst of keep-alive connections opened
/// at once went nearly all to the worker whose accept thread woke first);</item>
/// <item>accepting can stop without closing the connections already open, so a retiring
/// worker answers its clients before it leaves;</item>
/// <item>it counts open connections, which tells the drain when it is done.</item>
/// </list>
/// </summary>
internal sealed class InheritedListeners : IConnectionListenerFactory, IDisposable
{
    // How often an accept thread wakes to notice a stop when no connection comes.
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);

    // How long a worker without a free thread leaves a waiting connection to the others (100
    // ms): far longer than a free worker's accept thread takes to wake, even on a loaded
    // machine, short enough not to matter to a client when every worker is busy; and longer
    // than the 50 ms after which a running request counts as holding its thread, so that a
    // request that had just started when the yield began is seen for what it is at its end.
    // It looks again every YieldStep, to stop as soon as the connection is gone, a thread frees
    // or the others' counts catch up: in a burst the workers take turns at this pace.
    private static readonly long YieldTicks = System.Diagnostics.Stopwatch.Frequency / 10;
    private static readonly TimeSpan YieldStep = TimeSpan.FromMilliseconds(1);
    // How long a free worker above its share leaves a connection to a busy one below it (10
    // ms): a one-thread worker serving fast requests frees its thread many times over in it.
    private static readonly long PatienceTicks = System.Diagnostics.Stopwatch.Frequency / 100;

    // What a connection's output holds before a writer's flush waits for the socket (Kestrel's
    // default is 64 KiB). At 64 KiB a Python thread streaming a body in 64 KiB chunks waited
    // at every chunk for the sender thread, three thread hand-offs each: 1 MiB cost 900+ µs of
    // CPU, against 250-300 in Gunicorn's sync worker. With room for half a MiB the flush
    // returns at once while the client keeps up, and still holds the app back when it does
    // not. 1 MiB cost the same CPU within noise (1 MiB responses at -w 2, 32 connections,
    // three runs each: 418-543 against 472-515 us) but 37-52 MiB of RSS per worker against
    // 32-33 (Gunicorn's: 24); 256 KiB cost 620-652 us.
    private const int MaxUnsentBytes = 512 * 1024;

    private readonly SocketConnectionContextFactory _contexts;
    private readonly IAcceptGate _python;
    // The master's table and this worker's slot in it; null without one (--reuse-port).
    private readonly AcceptShares? _shares;
    private readonly int _slot;
    private volatile bool _stopped;
    private readonly List<AcceptLoop> _loops = [];
    private int _open;
    // Connections accepted in the last SlowTicks whose first request has not arrived: each
    // will want a thread at once. Older ones are slow clients (a slowloris head) that
    // Kestrel holds without a thread; they no longer count. _recent holds them in accept order.
    private int _unstarted;
    private readonly Queue<FirstRequestFeature> _recent = new();
    private static readonly long SlowTicks = System.Diagnostics.Stopwatch.Frequency / 20;

    public InheritedListeners(ILoggerFactory loggers, IAcceptGate python, AcceptShares? shares = null, int slot = -1)
    {
        _python = python;
        (_shares, _slot) = shares != null && slot >= 0 ? (shares, slot) : (null, -1);
        _contexts = new SocketConnectionContextFactory(
            new SocketConnectionFactoryOptions { MaxWriteBufferSize = MaxUnsentBytes }, loggers.CreateLogger("Narwhal.Transport"));
    }

    public int OpenConnections => Volatile.Read(ref _open);

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        if (endpoint is not FileHandleEndPoint handle)
            throw new NotSupportedException($"workers only serve sockets inherited from the master, not {endpoint}");
        var socket = new Socket(new SafeSocketHandle((nint)handle.FileHandle, ownsHandle: true)) { Blocking = false };
        var loop = new AcceptLoop(this, socket, endpoint);
        lock (_loops) _loops.Add(loop);
        return ValueTask.FromResult<IConnectionListener>(loop);
    }

    /// <summary>
    /// Stops accepting on every socket. With <paramref name="takeBacklog"/>, connections the
    /// kernel has queued are taken first: in a final stop this process may hold the last copy
    /// of the socket, and closing it would reset them (Gunicorn's issue #3397). A worker that
    /// could not serve them (its threads are stuck) leaves them to the others.
    /// </summary>
    public void StopAccepting(bool takeBacklog)
    {
        Stopped();
        lock (_loops)
            foreach (var loop in _loops) loop.Stop(takeBacklog);
    }

    /// <summary>The others no longer count this worker (an accept thread may have published a moment before).</summary>
    private void Stopped()
    {
        _stopped = true;
        _shares?.Publish(_slot, accepting: false, free: false);
    }

    /// <summary>Waits for capacity as the gate says, and tells the others whether this worker takes connections.</summary>
    private bool WaitForCapacity(TimeSpan timeout)
    {
        var capacity = _python.WaitForCapacity(timeout);
        if (_shares != null)
        {
            _shares.Publish(_slot, capacity && !_stopped, capacity && HasFreeThread);
            if (_stopped) _shares.Publish(_slot, false, false);
        }
        return capacity;
    }

    /// <summary>
    /// Whether to take a waiting connection now: a free thread here, and with the shares this
    /// worker's turn (<see cref="ShareRule"/>: at most its share, counted as <paramref name="stage"/>
    /// says). After a yield in vain only the turn counts.
    /// </summary>
    private bool TakesNow(YieldStage stage)
    {
        var free = HasFreeThread;
        if (_shares == null) return free || stage == YieldStage.InVain;
        return _shares.TakesNow(_slot, free, stage) && !_stopped;
    }

    public void Dispose() => _contexts.Dispose();

    private bool HasFreeThread
    {
        get
        {
            var old = System.Diagnostics.Stopwatch.GetTimestamp() - SlowTicks;
            lock (_recent)
                while (_recent.TryPeek(out var first) && (first.Done || first.AcceptedAt < old))
                    _recent.Dequeue().Arrived();
            return _python.HasFreeThread(Volatile.Read(ref _unstarted));
        }
    }

    private FirstRequestFeature Taken(Socket socket)
    {
        if (socket.AddressFamily != AddressFamily.Unix) socket.NoDelay = true;
        Interlocked.Increment(ref _open);
        _shares?.Opened(_slot);
        Interlocked.Increment(ref _unstarted);
        var first = new FirstRequestFeature(this);
        lock (_recent) _recent.Enqueue(first);
        return first;
    }

    internal void Unstarted() => Interlocked.Decrement(ref _unstarted);

    private void Closed()
    {
        Interlocked.Decrement(ref _open);
        _shares?.Closed(_slot);
    }

    private ConnectionContext Open(Socket socket, FirstRequestFeature first)
    {
        var context = _contexts.Create(socket);
        context.Features.Set(first);
        context.ConnectionClosed.Register(static state =>
        {
            var (owner, first) = ((InheritedListeners, FirstRequestFeature))state!;
            owner.Closed();
            first.Arrived(); // closed before any request: it no longer waits for a thread
        }, (this, first));
        return context;
    }

    /// <summary>One listening socket: a thread accepts when there is capacity and hands sockets to Kestrel.</summary>
    private sealed class AcceptLoop : IConnectionListener
    {
        private readonly InheritedListeners _owner;
        private readonly Socket _socket;
        private readonly Channel<(Socket, FirstRequestFeature)> _accepted = Channel.CreateUnbounded<(Socket, FirstRequestFeature)>(new() { SingleReader = true, SingleWriter = true });
        private readonly Thread _thread;
        private volatile bool _stopping;
        private int _closed;

        public AcceptLoop(InheritedListeners owner, Socket socket, EndPoint endpoint)
        {
            _owner = owner;
            _socket = socket;
            EndPoint = endpoint;
            _thread = new Thread(Run) { IsBackground = true, Name = "accept" };
            _thread.Start();
        }

        public EndPoint EndPoint { get; }

        private void Run()
        {
            // Set when a yield was in vain (no other worker took the connection): then the
            // others are busy or do not accept, and this one takes what is queued without
            // yielding each time, until the queue is empty or for as long as one yield (after
            // which their state may have changed: a steady queue would otherwise all come here).
            var othersBusyUntil = 0L;
            while (!_stopping)
            {
                if (!_owner.WaitForCapacity(PollInterval)) continue;
                if (!_socket.Poll(PollInterval, SelectMode.SelectRead) || _stopping)
                {
                    othersBusyUntil = 0;
                    continue;
                }
                // Taken here, the connection's request could wait behind this worker's (slow
                // or stuck) requests while another worker sits idle, or add to a worker that
                // already holds more than its share.
                var othersBusy = System.Diagnostics.Stopwatch.GetTimestamp() < othersBusyUntil;
                if (!_owner.TakesNow(othersBusy ? YieldStage.InVain : YieldStage.First))
                {
                    var busy = !_owner.HasFreeThread;
                    var yielded = Yield(othersBusy);
                    if (yielded == YieldOutcome.Gone) continue;
                    // A yield in vain says the others are busy. So does one that began because
                    // this worker had no free thread and ended when it got one, the connection
                    // still waiting: no free worker took it meanwhile. (Taking the rest of the
                    // queue one connection per freed thread instead let a flood of idle
                    // connections, each counted as wanting a thread for 50 ms, hold a good one
                    // 2 s behind 41 slowloris heads.) One that ended on this worker's turn by
                    // the counts says nothing of the next connection: taking the rest of a
                    // burst then is what piled it onto one worker.
                    if (yielded == YieldOutcome.InVain || (busy && !othersBusy && _owner.HasFreeThread))
                        othersBusyUntil = System.Diagnostics.Stopwatch.GetTimestamp() + YieldTicks;
                }
                // Another worker may have taken it since Poll: then Accept would block.
                if (!TryAccept() || !_socket.Poll(TimeSpan.Zero, SelectMode.SelectRead)) othersBusyUntil = 0;
                // While the others stay busy the queue keeps being taken, in turns by the counts:
                // the window slides with each connection taken. Had it ended one yield after it
                // began, each connection of a flood past it would wait out the one before it
                // (a connection counts as wanting a thread for 50 ms): 41 slowloris heads held
                // a good request 2 s.
                else if (othersBusy) othersBusyUntil = System.Diagnostics.Stopwatch.GetTimestamp() + YieldTicks;
            }
        }

        private enum YieldOutcome { Gone, MyTurn, InVain }

        /// <summary>
        /// Leaves the waiting connection to the other workers for a moment: another took it (or
        /// this worker is stopping, or has no capacity left after all), it became this worker's
        /// turn, or no one took it in all that time.
        /// </summary>
        private YieldOutcome Yield(bool othersBusy)
        {
            var start = System.Diagnostics.Stopwatch.GetTimestamp();
            long now;
            while ((now = System.Diagnostics.Stopwatch.GetTimestamp()) < start + YieldTicks)
            {
                Thread.Sleep(YieldStep);
                if (_stopping || !_socket.Poll(TimeSpan.Zero, SelectMode.SelectRead)) return YieldOutcome.Gone;
                var stage = othersBusy ? YieldStage.InVain : now - start >= PatienceTicks ? YieldStage.Waited : YieldStage.First;
                if (_owner.TakesNow(stage)) return YieldOutcome.MyTurn;
            }
            return _owner.WaitForCapacity(TimeSpan.Zero) ? YieldOutcome.InVain : YieldOutcome.Gone;
        }

        private bool TryAccept()
        {
            try
            {
                var socket = _socket.Accept();
                _accepted.Writer.TryWrite((socket, _owner.Taken(socket)));
                return true;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.WouldBlock or SocketError.ConnectionAborted or SocketError.ConnectionReset)
            {
                return e.SocketErrorCode != SocketError.WouldBlock;
            }
        }

        public void Stop(bool takeBacklog)
        {
            if (Interlocked.Exchange(ref _closed, 1) != 0) return;
            _owner.Stopped();
            _stopping = true;
            _thread.Join();
            if (takeBacklog)
                while (TryAccept()) { }
            _socket.Dispose();
            _accepted.Writer.TryComplete();
        }

        public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            try
            {
                var (socket, first) = await _accepted.Reader.ReadAsync(cancellationToken);
                return _owner.Open(socket, first);
            }
            catch (ChannelClosedException)
            {
                return null;
            }
        }

        public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
        {
            Stop(takeBacklog: true);
            return ValueTask.CompletedTask;
        }

        public ValueTask DisposeAsync()
        {
            Stop(takeBacklog: false);
            while (_accepted.Reader.TryRead(out var accepted))
            {
                accepted.Item1.Dispose();
                _owner.Closed();
                accepted.Item2.Arrived();
            }
            return ValueTask.CompletedTask;
        }
    }
}
