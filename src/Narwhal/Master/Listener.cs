using System.Net;
using System.Net.Sockets;
using Narwhal.Posix;
using Narwhal.Settings;

namespace Narwhal.Master;

/// <summary>
/// A listening socket owned by the master and inherited by workers (and by a new master on
/// USR2) as a plain file descriptor, since .NET cannot fork.
/// </summary>
internal sealed class Listener : IDisposable
{
    private Listener(Socket socket, string? unixPath)
    {
        Socket = socket;
        UnixPath = unixPath;
        Unix.SetInheritable(Fd, true);
    }

    public Socket Socket { get; }

    public int Fd => (int)Socket.SafeHandle.DangerousGetHandle();

    /// <summary>The socket file of a unix bind, removed on a final stop.</summary>
    public string? UnixPath { get; }

    public bool IsTcp => Socket.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6;

    /// <summary>Binds and listens as Gunicorn's sock.py does: SO_REUSEADDR, IPV6_V6ONLY, umask for unix sockets.</summary>
    public static Listener Bind(BindAddress bind, int backlog, bool reusePort, int umask, int uid, int gid, bool listen)
    {
        if (bind.Kind == BindKind.Fd) return Adopt(bind.Fd);
        if (bind.Kind == BindKind.Unix) return BindUnix(bind.Path, backlog, umask, uid, gid);

        var endpoint = new IPEndPoint(Resolve(bind.Host), bind.Port);
        var socket = CreateTcp(endpoint, reusePort);
        try
        {
            socket.Bind(endpoint);
            if (listen) socket.Listen(backlog);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return new Listener(socket, null);
    }

    /// <summary>
    /// A further socket on the same TCP address as <paramref name="shared"/>, for one worker in
    /// --reuse-port mode: the kernel then balances new connections across workers' sockets.
    /// </summary>
    public static Listener BindReusePortTwin(Listener shared, int backlog)
    {
        var endpoint = (IPEndPoint)shared.Socket.LocalEndPoint!;
        var socket = CreateTcp(endpoint, reusePort: true);
        try
        {
            socket.Bind(endpoint);
            socket.Listen(backlog);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return new Listener(socket, null);
    }

    /// <summary>A listening socket handed to us (fd://N, systemd, or the old master on USR2).</summary>
    public static Listener Adopt(int fd)
    {
        if (!Unix.IsOpen(fd)) throw new IOException($"file descriptor {fd} is not open");
        var socket = new Socket(new SafeSocketHandle(fd, ownsHandle: true));
        if (socket.LocalEndPoint == null)
        {
            socket.Dispose();
            throw new IOException($"file descriptor {fd} is not a bound socket");
        }
        string? path = socket.LocalEndPoint is UnixDomainSocketEndPoint u ? u.ToString() : null;
        return new Listener(socket, path);
    }

    private static Socket CreateTcp(IPEndPoint endpoint, bool reusePort)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        // SO_REUSEADDR alone, set raw: .NET's ReuseAddress also sets SO_REUSEPORT on Linux, which
        // let a second server bind a port in use and share its connections with the first.
        socket.SetRawSocketOption(1 /* SOL_SOCKET */, 2 /* SO_REUSEADDR */, BitConverter.GetBytes(1));
        if (reusePort) socket.SetRawSocketOption(1 /* SOL_SOCKET */, 15 /* SO_REUSEPORT */, BitConverter.GetBytes(1));
        if (endpoint.AddressFamily == AddressFamily.InterNetworkV6) socket.DualMode = false;
        return socket;
    }

    private static Listener BindUnix(string path, int backlog, int umask, int uid, int gid)
    {
        RemoveStaleSocket(path);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        var old = Unix.SetUmask(umask);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(path));
            socket.Listen(backlog);
            if (uid != Unix.EffectiveUserId || gid != Unix.EffectiveGroupId) Unix.Chown(path, uid, gid);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        finally
        {
            Unix.SetUmask(old);
        }
        return new Listener(socket, Path.GetFullPath(path));
    }

    /// <summary>Like Python's socket.bind: a name resolves to its first address, IPv4 first.</summary>
    private static IPAddress Resolve(string host)
    {
        if (IPAddress.TryParse(host, out var ip)) return ip;
        var addresses = Dns.GetHostAddresses(host);
        return addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork)
            ?? addresses.FirstOrDefault()
            ?? throw new SocketException((int)SocketError.HostNotFound);
    }

    /// <summary>
    /// A socket file left by a previous run would make bind fail; Gunicorn removes it too.
    /// A live socket is left alone (bind then reports it in use); a non-socket is an error.
    /// </summary>
    private static void RemoveStaleSocket(string path)
    {
        if (!File.Exists(path)) return;
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
        {
            File.Delete(path);
        }
        catch (SocketException)
        {
            throw new IOException($"'{path}' exists and is not a socket");
        }
    }

    /// <summary>How Gunicorn prints a listener in "Listening at:".</summary>
    public override string ToString() => Socket.LocalEndPoint switch
    {
        IPEndPoint { AddressFamily: AddressFamily.InterNetworkV6 } ip => $"http://[{ip.Address}]:{ip.Port}",
        IPEndPoint ip => $"http://{ip.Address}:{ip.Port}",
        UnixDomainSocketEndPoint u => $"unix:{u}",
        var other => other?.ToString() ?? "?",
    };

    public void Dispose() => Socket.Dispose();
}
