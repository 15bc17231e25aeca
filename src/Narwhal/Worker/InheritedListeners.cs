using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging;

namespace Narwhal.Worker;

/// <summary>
/// Kestrel's transport over the listening sockets this worker inherited from the master.
/// Unlike Kestrel's own socket transport:
/// <list type="bullet">
/// <item>it accepts only while a Python thread is free, so connections wait in the shared
/// kernel queue for an idle worker rather than behind a slow request here;</item>
/// <item>accepting can stop without closing the connections already open, so a retiring
/// worker answers its clients before it leaves;</item>
/// <item>it counts open connections, which tells the drain when it is done.</item>
/// </list>
/// </summary>
internal sealed class InheritedListeners : IConnectionListenerFactory, IDisposable
{
    // How often an accept thread wakes to notice a stop when no connection comes.
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);

    private readonly SocketConnectionContextFactory _contexts;
    private readonly PythonThreads _python;
    private readonly List<AcceptLoop> _loops = [];
    private int _open;

    public InheritedListeners(ILoggerFactory loggers, PythonThreads python)
    {
        _python = python;
        _contexts = new SocketConnectionContextFactory(new SocketConnectionFactoryOptions(), loggers.CreateLogger("Narwhal.Transport"));
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
        lock (_loops)
            foreach (var loop in _loops) loop.Stop(takeBacklog);
    }

    public void Dispose() => _contexts.Dispose();

    private void Taken(Socket socket)
    {
        if (socket.AddressFamily != AddressFamily.Unix) socket.NoDelay = true;
        Interlocked.Increment(ref _open);
    }

    private ConnectionContext Open(Socket socket)
    {
        var context = _contexts.Create(socket);
        context.ConnectionClosed.Register(static state => Interlocked.Decrement(ref ((InheritedListeners)state!)._open), this);
        return context;
    }

    /// <summary>One listening socket: a thread accepts when there is capacity and hands sockets to Kestrel.</summary>
    private sealed class AcceptLoop : IConnectionListener
    {
        private readonly InheritedListeners _owner;
        private readonly Socket _socket;
        private readonly Channel<Socket> _accepted = Channel.CreateUnbounded<Socket>(new() { SingleReader = true, SingleWriter = true });
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
            while (!_stopping)
            {
                if (!_owner._python.WaitForCapacity(PollInterval)) continue;
                if (!_socket.Poll(PollInterval, SelectMode.SelectRead) || _stopping) continue;
                // Another worker may have taken it since Poll: then Accept would block.
                TryAccept();
            }
        }

        private bool TryAccept()
        {
            try
            {
                var socket = _socket.Accept();
                _owner.Taken(socket);
                _accepted.Writer.TryWrite(socket);
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
                return _owner.Open(await _accepted.Reader.ReadAsync(cancellationToken));
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
            while (_accepted.Reader.TryRead(out var socket))
            {
                socket.Dispose();
                Interlocked.Decrement(ref _owner._open);
            }
            return ValueTask.CompletedTask;
        }
    }
}
