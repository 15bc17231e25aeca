using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging;

namespace Narwhal.Worker;

/// <summary>
/// Kestrel's transport over the listening sockets this worker inherited from the master.
/// Unlike Kestrel's own socket transport, accepting can stop on its own, without closing the
/// connections already open, so a retiring worker can answer its clients before it leaves.
/// It also counts open connections, which tells the drain when it is done.
/// </summary>
internal sealed class InheritedListeners : IConnectionListenerFactory, IDisposable
{
    private readonly SocketConnectionContextFactory _contexts;
    private readonly List<AcceptLoop> _loops = [];
    private int _open;

    public InheritedListeners(ILoggerFactory loggers)
    {
        _contexts = new SocketConnectionContextFactory(new SocketConnectionFactoryOptions(), loggers.CreateLogger("Narwhal.Transport"));
    }

    public int OpenConnections => Volatile.Read(ref _open);

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        if (endpoint is not FileHandleEndPoint handle)
            throw new NotSupportedException($"workers only serve sockets inherited from the master, not {endpoint}");
        var socket = new Socket(new SafeSocketHandle((nint)handle.FileHandle, ownsHandle: true));
        var loop = new AcceptLoop(this, socket, endpoint);
        lock (_loops) _loops.Add(loop);
        return ValueTask.FromResult<IConnectionListener>(loop);
    }

    /// <summary>
    /// Stops accepting on every socket. Connections already queued in the kernel are taken
    /// first: in a final stop this process may hold the last copy of the socket, and closing
    /// it would reset them (Gunicorn's issue #3397).
    /// </summary>
    public void StopAccepting()
    {
        lock (_loops)
            foreach (var loop in _loops) loop.Stop();
    }

    public void Dispose() => _contexts.Dispose();

    /// <summary>A connection taken from the kernel, counted as open from then on (even while it waits for Kestrel).</summary>
    private Socket Taken(Socket socket)
    {
        Interlocked.Increment(ref _open);
        return socket;
    }

    private ConnectionContext Open(Socket socket)
    {
        if (socket.AddressFamily != AddressFamily.Unix) socket.NoDelay = true;
        var context = _contexts.Create(socket);
        context.ConnectionClosed.Register(static state => Interlocked.Decrement(ref ((InheritedListeners)state!)._open), this);
        return context;
    }

    private sealed class AcceptLoop(InheritedListeners owner, Socket socket, EndPoint endpoint) : IConnectionListener
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Queue<Socket> _backlog = new();
        private int _closed;

        public EndPoint EndPoint { get; } = endpoint;

        /// <summary>
        /// Synchronous, so that once it returns every connection this worker will ever serve
        /// is counted in <see cref="OpenConnections"/>.
        /// </summary>
        public void Stop()
        {
            _stop.Cancel();
            TakeBacklogAndClose();
        }

        public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            while (true)
            {
                lock (_backlog)
                {
                    if (_backlog.TryDequeue(out var queued)) return owner.Open(queued);
                    if (_closed != 0) return null;
                }
                try
                {
                    using var both = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token, cancellationToken);
                    return owner.Open(owner.Taken(await socket.AcceptAsync(both.Token)));
                }
                catch (OperationCanceledException)
                {
                    TakeBacklogAndClose();
                }
                catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionAborted or SocketError.ConnectionReset)
                {
                    // The client gave up while queued; keep accepting.
                }
                catch (Exception e) when (e is ObjectDisposedException or SocketException && Volatile.Read(ref _closed) != 0)
                {
                    // Closed by Stop() under a pending accept; what it took is in the backlog.
                }
            }
        }

        /// <summary>Takes what the kernel has queued, then closes; once only, and complete before <c>_closed</c> is seen.</summary>
        private void TakeBacklogAndClose()
        {
            lock (_backlog)
            {
                if (_closed != 0) return;
                try
                {
                    socket.Blocking = false; // another worker may take a connection between Poll and Accept
                    while (socket.Poll(0, SelectMode.SelectRead)) _backlog.Enqueue(owner.Taken(socket.Accept()));
                }
                catch (SocketException)
                {
                    // Nothing more to take.
                }
                Volatile.Write(ref _closed, 1);
                socket.Dispose();
            }
        }

        public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
        {
            Stop();
            return ValueTask.CompletedTask;
        }

        public ValueTask DisposeAsync()
        {
            UnbindAsync();
            lock (_backlog)
            while (_backlog.TryDequeue(out var s))
            {
                s.Dispose();
                Interlocked.Decrement(ref owner._open);
            }
            _stop.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
