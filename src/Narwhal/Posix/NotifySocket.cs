using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace Narwhal.Posix;

/// <summary>
/// The service manager's notification socket (systemd's sd_notify protocol): one datagram of
/// newline-separated KEY=VALUE lines to the AF_UNIX socket named by NOTIFY_SOCKET, a path or
/// "@name" for the abstract namespace. systemd learns the sender from the kernel's
/// credentials on the datagram, so nothing here names the process unless MAINPID= does.
/// </summary>
internal sealed partial class NotifySocket : IDisposable
{
    public const string Variable = "NOTIFY_SOCKET";

    private readonly Socket _socket;
    private readonly UnixDomainSocketEndPoint _target;

    private NotifySocket(string address, UnixDomainSocketEndPoint target)
    {
        Address = address;
        _target = target;
        _socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        // A manager that stopped reading must not stall the master's loop for long.
        _socket.SendTimeout = 2000;
    }

    /// <summary>NOTIFY_SOCKET as it was given, for a process that must notify too (a USR2 master).</summary>
    public string Address { get; }

    /// <summary>
    /// The socket NOTIFY_SOCKET names, or null when it is unset or empty. Throws
    /// <see cref="FormatException"/> for an address that is not an AF_UNIX one (systemd's
    /// vsock: form, a relative path).
    /// </summary>
    public static NotifySocket? FromEnvironment()
    {
        if (Environment.GetEnvironmentVariable(Variable) is not { Length: > 0 } address) return null;
        return new NotifySocket(address, EndPoint(address));
    }

    public static UnixDomainSocketEndPoint EndPoint(string address)
    {
        // .NET takes a leading NUL as the abstract namespace, as the kernel does.
        if (address[0] == '@' && address.Length > 1) return new UnixDomainSocketEndPoint("\0" + address[1..]);
        if (address[0] == '/') return new UnixDomainSocketEndPoint(address);
        throw new FormatException($"{Variable}='{address}' is not a unix socket path or @abstract name");
    }

    /// <summary>Sends the lines as one datagram; the reason when it could not be sent, else null.</summary>
    public string? Send(params string[] lines)
    {
        try
        {
            _socket.SendTo(Encoding.UTF8.GetBytes(string.Join('\n', lines) + "\n"), _target);
            return null;
        }
        catch (SocketException e)
        {
            return e.Message;
        }
    }

    /// <summary>CLOCK_MONOTONIC in microseconds, the clock of RELOADING=1's MONOTONIC_USEC.</summary>
    public static unsafe long MonotonicMicroseconds()
    {
        long* ts = stackalloc long[2]; // struct timespec on x86_64: tv_sec, tv_nsec
        clock_gettime(1 /* CLOCK_MONOTONIC */, ts);
        return ts[0] * 1_000_000 + ts[1] / 1000;
    }

    [LibraryImport("libc")]
    private static unsafe partial int clock_gettime(int clock, long* ts);

    public void Dispose() => _socket.Dispose();
}
