using System.Net;
using System.Net.Sockets;
using System.Text;
using Narwhal.Posix;

namespace Narwhal.Logging;

/// <summary>
/// Sends log lines to syslog the way Gunicorn's handler (Python's SysLogHandler) does:
/// <c>&lt;PRI&gt;gunicorn.PREFIX.error: [pid] message\0</c>, over udp://, tcp:// or unix://PATH#TYPE.
/// Best effort: a syslog daemon that is down never blocks or fails a request.
/// </summary>
internal sealed class SyslogSink : IDisposable
{
    private readonly Socket _socket;
    private readonly EndPoint _endpoint;
    private readonly int _facility;
    private readonly bool _stream;
    private readonly object _lock = new();

    private SyslogSink(Socket socket, EndPoint endpoint, int facility, bool stream)
    {
        _socket = socket;
        _endpoint = endpoint;
        _facility = facility;
        _stream = stream;
    }

    public static SyslogSink Open(string address, string facility)
    {
        var code = SyslogFacilities.Codes[facility.ToLowerInvariant()];
        if (address.StartsWith("unix://"))
        {
            var parts = address["unix://".Length..].Split('#', 2);
            var endpoint = new UnixDomainSocketEndPoint(parts[0]);
            var dgram = parts.Length < 2 || parts[1] == "dgram"; // /dev/log is a datagram socket on Linux
            var socket = new Socket(AddressFamily.Unix, dgram ? SocketType.Dgram : SocketType.Stream, ProtocolType.Unspecified);
            try { socket.Connect(endpoint); } catch (SocketException) { /* retried on each send */ }
            return new SyslogSink(socket, endpoint, code, !dgram);
        }
        var tcp = address.StartsWith("tcp://");
        var hostPort = address[(address.IndexOf("//", StringComparison.Ordinal) + 2)..];
        var (host, port) = SplitHostPort(hostPort);
        var ip = Dns.GetHostAddresses(host).First();
        var ipEndpoint = new IPEndPoint(ip, port);
        var s = new Socket(ip.AddressFamily, tcp ? SocketType.Stream : SocketType.Dgram, tcp ? ProtocolType.Tcp : ProtocolType.Udp);
        if (tcp)
        {
            try { s.Connect(ipEndpoint); } catch (SocketException) { }
        }
        return new SyslogSink(s, ipEndpoint, code, tcp);
    }

    private static (string Host, int Port) SplitHostPort(string s)
    {
        if (s.StartsWith('['))
        {
            var end = s.IndexOf(']');
            var rest = s[(end + 1)..];
            return (s[1..end], rest.StartsWith(':') ? int.Parse(rest[1..]) : 514);
        }
        var colon = s.LastIndexOf(':');
        if (colon < 0) return (s.Length == 0 ? "localhost" : s, 514);
        return (s[..colon].Length == 0 ? "localhost" : s[..colon], int.Parse(s[(colon + 1)..]));
    }

    /// <summary>Severity from the log level, as Python's SysLogHandler maps it.</summary>
    private static int Severity(LogLevel level) => level switch
    {
        LogLevel.Debug => 7,
        LogLevel.Info => 6,
        LogLevel.Warning => 4,
        LogLevel.Error => 3,
        _ => 2,
    };

    public void Send(LogLevel level, string tag, string message)
    {
        var pri = (_facility << 3) | Severity(level);
        var bytes = Encoding.UTF8.GetBytes($"<{pri}>{tag}: [{Environment.ProcessId}] {message}\0");
        lock (_lock)
        {
            try
            {
                if (_stream) _socket.Send(bytes);
                else if (_socket.Connected) _socket.Send(bytes);
                else _socket.SendTo(bytes, _endpoint);
            }
            catch (SocketException) { }
            catch (ObjectDisposedException) { }
        }
    }

    public void Dispose() => _socket.Dispose();
}
