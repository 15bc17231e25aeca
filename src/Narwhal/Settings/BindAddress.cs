using System.Net;
using System.Net.Sockets;

namespace Narwhal.Settings;

internal enum BindKind { Tcp, Unix, Fd }

/// <summary>A parsed <c>--bind</c> value, in Gunicorn's forms.</summary>
internal sealed record BindAddress(BindKind Kind, string Host, int Port, string Path, int Fd)
{
    // Matches Gunicorn's default port when only a host is given.
    private const int DefaultPort = 8000;

    public static BindAddress Parse(string raw)
    {
        if (raw.StartsWith("unix:", StringComparison.Ordinal))
        {
            var path = raw.StartsWith("unix://", StringComparison.Ordinal) ? raw[7..] : raw[5..];
            return path.Length > 0 ? new(BindKind.Unix, "", 0, path, -1) : throw Bad(raw);
        }
        if (raw.StartsWith("fd://", StringComparison.Ordinal))
            return int.TryParse(raw[5..], out var fd) && fd >= 0 ? new(BindKind.Fd, "", 0, "", fd) : throw Bad(raw);

        string host;
        var port = DefaultPort;
        if (raw.StartsWith('['))
        {
            var close = raw.IndexOf(']');
            if (close < 0) throw Bad(raw);
            host = raw[1..close];
            var rest = raw[(close + 1)..];
            if (rest.Length > 0 && (!rest.StartsWith(':') || !TryPort(rest[1..], out port))) throw Bad(raw);
            if (!IPAddress.TryParse(host, out var ip) || ip.AddressFamily != AddressFamily.InterNetworkV6) throw Bad(raw);
        }
        else
        {
            var colon = raw.LastIndexOf(':');
            if (colon >= 0 && raw.IndexOf(':') != colon) throw Bad(raw); // a bare IPv6 needs brackets
            host = colon >= 0 ? raw[..colon] : raw;
            if (colon >= 0 && !TryPort(raw[(colon + 1)..], out port)) throw Bad(raw);
            if (host.Length == 0) host = "0.0.0.0";
        }
        return new(BindKind.Tcp, host, port, "", -1);
    }

    /// <summary>How Gunicorn prints a listener in "Listening at:".</summary>
    public override string ToString() => Kind switch
    {
        BindKind.Unix => $"unix:{Path}",
        BindKind.Fd => $"fd://{Fd}",
        _ => Host.Contains(':') ? $"http://[{Host}]:{Port}" : $"http://{Host}:{Port}",
    };

    private static bool TryPort(string s, out int port) => int.TryParse(s, out port) && port is >= 0 and <= 65535;

    private static SettingValueException Bad(string raw) => new(
        $"'{raw}' is not a valid address (allowed: HOST, HOST:PORT, [IPv6]:PORT, unix:PATH, fd://FD)");
}
