using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Narwhal.Http;

/// <summary>Which PROXY protocol headers a connection may start with (proxy_protocol).</summary>
internal enum ProxyProtocolMode { Off, V1, V2, Auto }

/// <summary>
/// What a PROXY protocol header said about the connection: the client behind the proxy and
/// the address it connected to. Set as a connection feature; the environ takes REMOTE_ADDR,
/// REMOTE_PORT, PROXY_PROTOCOL, PROXY_ADDR and PROXY_PORT from it, as Gunicorn does.
/// </summary>
internal sealed record ProxyProtocolHeader(string Protocol, string ClientAddress, int ClientPort, string ProxyAddress, int ProxyPort);

/// <summary>
/// The PROXY protocol (haproxy's proxy-protocol.txt), version 1 (a text line) and version 2
/// (binary), parsed from the first bytes of a connection. Version 1 is checked as Gunicorn
/// checks it: six space-separated fields, TCP4 or TCP6, addresses of that family, ports
/// 0-65535. "PROXY UNKNOWN" (a proxy's health check) and version 2's LOCAL command keep the
/// connection's own addresses, as the specification requires.
/// </summary>
internal static class ProxyProtocol
{
    public enum Outcome { NeedMore, Absent, Parsed, Invalid }

    private static readonly byte[] V1Prefix = "PROXY "u8.ToArray();
    private static readonly byte[] V2Signature = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    /// <summary>The longest version 1 line, CRLF included (specification, section 2.1).</summary>
    public const int V1MaxLine = 107;

    public static ProxyProtocolMode ParseMode(string setting) => setting switch
    {
        "v1" => ProxyProtocolMode.V1,
        "v2" => ProxyProtocolMode.V2,
        "auto" => ProxyProtocolMode.Auto,
        _ => ProxyProtocolMode.Off,
    };

    /// <summary>
    /// Looks for a header at the start of <paramref name="data"/>. Parsed: <paramref name="length"/>
    /// bytes are the header, and <paramref name="header"/> is null when it keeps the connection's
    /// own addresses. Absent: the connection starts with something else (nothing is consumed).
    /// </summary>
    public static Outcome TryRead(ReadOnlySequence<byte> data, ProxyProtocolMode mode, out int length, out ProxyProtocolHeader? header)
    {
        length = 0;
        header = null;
        Span<byte> start = stackalloc byte[16];
        var have = (int)Math.Min(data.Length, start.Length);
        data.Slice(0, have).CopyTo(start);
        start = start[..have];

        if (mode is ProxyProtocolMode.V1 or ProxyProtocolMode.Auto && StartsLike(start, V1Prefix, out var v1Complete))
        {
            if (!v1Complete) return Outcome.NeedMore;
            return ReadV1(data, out length, out header);
        }
        if (mode is ProxyProtocolMode.V2 or ProxyProtocolMode.Auto && StartsLike(start, V2Signature, out var v2Complete))
        {
            if (!v2Complete || data.Length < 16) return Outcome.NeedMore;
            return ReadV2(data, start, out length, out header);
        }
        // Still a prefix of both? (Only the empty buffer is: the two signatures differ in their first byte.)
        return start.Length == 0 ? Outcome.NeedMore : Outcome.Absent;
    }

    /// <summary>True while <paramref name="start"/> could still be <paramref name="prefix"/>; complete once all of it arrived.</summary>
    private static bool StartsLike(ReadOnlySpan<byte> start, ReadOnlySpan<byte> prefix, out bool complete)
    {
        var n = Math.Min(start.Length, prefix.Length);
        complete = n == prefix.Length;
        return n > 0 && start[..n].SequenceEqual(prefix[..n]);
    }

    private static Outcome ReadV1(ReadOnlySequence<byte> data, out int length, out ProxyProtocolHeader? header)
    {
        length = 0;
        header = null;
        var window = data.Slice(0, Math.Min(data.Length, V1MaxLine));
        var lf = window.PositionOf((byte)'\n');
        if (lf is null) return window.Length >= V1MaxLine ? Outcome.Invalid : Outcome.NeedMore;
        var line = window.Slice(0, lf.Value).ToArray();
        length = line.Length + 1;
        if (line.Length == 0 || line[^1] != '\r') return Outcome.Invalid;
        var text = Encoding.Latin1.GetString(line, 0, line.Length - 1);
        var bits = text.Split(' ');
        if (bits.Length >= 2 && bits[1] == "UNKNOWN") return Outcome.Parsed;
        if (bits.Length != 6) return Outcome.Invalid;
        var family = bits[1] switch
        {
            "TCP4" => AddressFamily.InterNetwork,
            "TCP6" => AddressFamily.InterNetworkV6,
            _ => AddressFamily.Unknown,
        };
        if (family == AddressFamily.Unknown
            || !TryAddress(bits[2], family, out var client) || !TryAddress(bits[3], family, out var proxy)
            || !TryPort(bits[4], out var clientPort) || !TryPort(bits[5], out var proxyPort))
            return Outcome.Invalid;
        header = new ProxyProtocolHeader(bits[1], client, clientPort, proxy, proxyPort);
        return Outcome.Parsed;
    }

    private static Outcome ReadV2(ReadOnlySequence<byte> data, ReadOnlySpan<byte> start, out int length, out ProxyProtocolHeader? header)
    {
        header = null;
        var payload = (start[14] << 8) | start[15];
        length = 16 + payload;
        if (data.Length < length) return Outcome.NeedMore;
        var version = start[12] >> 4;
        var command = start[12] & 0x0F;
        if (version != 2 || command > 1) return Outcome.Invalid;
        if (command == 0) return Outcome.Parsed; // LOCAL: the proxy's own connection (a health check)
        var addresses = data.Slice(16, payload).ToArray();
        switch (start[13])
        {
            case 0x11 when payload >= 12: // TCP over IPv4
                header = new ProxyProtocolHeader("TCP4",
                    new IPAddress(addresses.AsSpan(0, 4)).ToString(), (addresses[8] << 8) | addresses[9],
                    new IPAddress(addresses.AsSpan(4, 4)).ToString(), (addresses[10] << 8) | addresses[11]);
                return Outcome.Parsed;
            case 0x21 when payload >= 36: // TCP over IPv6
                header = new ProxyProtocolHeader("TCP6",
                    new IPAddress(addresses.AsSpan(0, 16)).ToString(), (addresses[32] << 8) | addresses[33],
                    new IPAddress(addresses.AsSpan(16, 16)).ToString(), (addresses[34] << 8) | addresses[35]);
                return Outcome.Parsed;
            case 0x00: // UNSPEC: nothing to say about the client
                return Outcome.Parsed;
            case 0x31: // a unix socket behind the proxy: no address to give, as on our own unix binds
                return Outcome.Parsed;
            default: // UDP, or an address block too short for its family
                return Outcome.Invalid;
        }
    }

    /// <summary>As inet_pton: dotted quads for TCP4, a textual IPv6 address (no zone) for TCP6.</summary>
    private static bool TryAddress(string text, AddressFamily family, out string address)
    {
        address = text;
        if (family == AddressFamily.InterNetwork)
        {
            var parts = text.Split('.');
            if (parts.Length != 4) return false;
            foreach (var part in parts)
                if (part.Length is 0 or > 3 || !part.All(char.IsAsciiDigit) || int.Parse(part) > 255) return false;
            return true;
        }
        return text.Contains(':') && !text.Contains('%')
            && IPAddress.TryParse(text, out var ip) && ip.AddressFamily == AddressFamily.InterNetworkV6;
    }

    private static bool TryPort(string text, out int port)
    {
        port = 0;
        return text.Length is > 0 and <= 5 && text.All(char.IsAsciiDigit) && (port = int.Parse(text)) <= 65535;
    }
}
