using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace Narwhal.Logging;

/// <summary>
/// Gunicorn's statsd instrumentation, same metric names and wire format: per request
/// <c>gunicorn.request.duration</c> (ms), <c>gunicorn.requests</c> and
/// <c>gunicorn.request.status.NNN</c>; <c>gunicorn.workers</c> from the master;
/// <c>gunicorn.log.{critical,error,warning,exception}</c> per error-log line; DogStatsD tags
/// appended as <c>|#tags</c>. UDP (or a unix datagram socket), fire and forget.
/// </summary>
internal sealed partial class Statsd
{
    private readonly Socket _socket;
    private readonly string _prefix;
    private readonly string _tags;

    public static Statsd? Current { get; set; }

    private Statsd(Socket socket, string prefix, string tags)
    {
        _socket = socket;
        _prefix = prefix;
        _tags = tags;
    }

    public static Statsd Open(string address, string prefix, string tags)
    {
        Socket socket;
        if (address.StartsWith("unix:"))
        {
            var path = address["unix:".Length..];
            if (path.StartsWith("//")) path = path[2..];
            socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            try { socket.Connect(new UnixDomainSocketEndPoint(path)); } catch (SocketException) { }
        }
        else
        {
            var colon = address.LastIndexOf(':');
            var (host, port) = colon > 0 && !address.EndsWith(']') ? (address[..colon], int.Parse(address[(colon + 1)..], CultureInfo.InvariantCulture)) : (address, 8125);
            host = host.Trim('[', ']');
            var ip = Dns.GetHostAddresses(host).First();
            socket = new Socket(ip.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            socket.Connect(new IPEndPoint(ip, port));
        }
        socket.Blocking = false;
        // Gunicorn: a prefix gets exactly one trailing dot.
        var p = prefix.Length == 0 ? "" : TrailingDots().Replace(prefix, "") + ".";
        return new Statsd(socket, p, tags);
    }

    [GeneratedRegex(@"\.+$")]
    private static partial Regex TrailingDots();

    public void Gauge(string name, long value) => Send($"{_prefix}{name}:{value}|g");

    public void Increment(string name, long value = 1) => Send($"{_prefix}{name}:{value}|c|@1.0");

    public void Histogram(string name, double value) => Send($"{_prefix}{name}:{PythonFloat(value)}|ms");

    public void Request(int status, TimeSpan duration)
    {
        Histogram("gunicorn.request.duration", (long)duration.TotalSeconds * 1000 + (duration.Ticks / 10 % 1_000_000) / 1000.0);
        Increment("gunicorn.requests");
        Increment($"gunicorn.request.status.{status}");
    }

    public void Log(LogLevel level)
    {
        if (level == LogLevel.Critical) Increment("gunicorn.log.critical");
        else if (level == LogLevel.Error) Increment("gunicorn.log.error");
        else if (level == LogLevel.Warning) Increment("gunicorn.log.warning");
    }

    /// <summary>str() of a Python float: shortest round-trip digits, at least one decimal.</summary>
    private static string PythonFloat(double v)
    {
        var s = v.ToString("R", CultureInfo.InvariantCulture);
        return s.Contains('.') || s.Contains('E') ? s : s + ".0";
    }

    private void Send(string message)
    {
        if (_tags.Length > 0) message += "|#" + _tags;
        try { _socket.Send(Encoding.ASCII.GetBytes(message)); }
        catch (SocketException) { /* no listener, or a full buffer: metrics are best effort */ }
    }
}
