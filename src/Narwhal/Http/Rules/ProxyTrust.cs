using System.Net;
using Microsoft.AspNetCore.Http;
using Narwhal.Settings;

namespace Narwhal.Http;

/// <summary>
/// Which peers may tell the app about the original request (forwarded_allow_ips: '*',
/// addresses, CIDR networks; a unix socket peer always may, as in Gunicorn), and what they
/// may tell: the scheme, through secure_scheme_headers. Gunicorn's rule, header by header:
/// a listed header whose value matches means https, any other value means http, and two
/// listed headers that disagree make the request invalid (400).
/// </summary>
internal sealed class ProxyTrust
{
    private readonly bool _anyPeer;
    private readonly HashSet<IPAddress> _addresses = [];
    private readonly List<(IPAddress Network, int Prefix)> _networks = [];
    private readonly KeyValuePair<string, string>[] _schemeHeaders;

    public ProxyTrust(IReadOnlyList<string> allowed, IReadOnlyDictionary<string, string> schemeHeaders)
    {
        foreach (var entry in allowed)
        {
            if (entry == "*") _anyPeer = true;
            else if (TryParseNetwork(entry, out var network, out var prefix)) _networks.Add((network, prefix));
            else if (IPAddress.TryParse(entry, out var ip)) _addresses.Add(Normalize(ip));
            else throw new SettingValueException($"'{entry}' is not an IP address, a CIDR network or '*'");
        }
        _schemeHeaders = schemeHeaders.ToArray();
    }

    /// <summary>Whether <paramref name="peer"/> (null: a unix socket) may set scheme headers.</summary>
    public bool Trusts(IPAddress? peer)
    {
        if (_anyPeer || peer is null) return true;
        peer = Normalize(peer);
        if (_addresses.Contains(peer)) return true;
        foreach (var (network, prefix) in _networks)
            if (InNetwork(peer, network, prefix)) return true;
        return false;
    }

    /// <summary>
    /// The scheme the request's trusted headers say, or null when none is present (the
    /// connection's own scheme stands). <paramref name="conflict"/>: two headers disagree.
    /// </summary>
    public string? Scheme(IHeaderDictionary headers, IPAddress? peer, out bool conflict)
    {
        conflict = false;
        if (_schemeHeaders.Length == 0 || !Trusts(peer)) return null;
        string? scheme = null;
        foreach (var (name, expected) in _schemeHeaders)
        {
            if (!headers.TryGetValue(name, out var values)) continue;
            foreach (var value in values)
            {
                var said = value == expected ? "https" : "http";
                if (scheme != null && scheme != said) conflict = true;
                scheme ??= said;
            }
        }
        return scheme;
    }

    private static IPAddress Normalize(IPAddress ip) => ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip;

    private static bool TryParseNetwork(string entry, out IPAddress network, out int prefix)
    {
        network = IPAddress.None;
        prefix = 0;
        var slash = entry.IndexOf('/');
        if (slash < 0) return false;
        if (!IPAddress.TryParse(entry[..slash], out var ip) || !int.TryParse(entry[(slash + 1)..], out prefix))
            throw new SettingValueException($"'{entry}' is not a CIDR network");
        var bits = ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128;
        if (prefix < 0 || prefix > bits) throw new SettingValueException($"'{entry}': the prefix must be 0..{bits}");
        // Gunicorn (24.1+) is strict: host bits set (192.168.1.1/24) is a mistake, not a network.
        if (!InNetwork(ip, ip, prefix, requireHostBitsClear: true))
            throw new SettingValueException($"'{entry}' has host bits set; did you mean the network address?");
        network = Normalize(ip);
        return true;
    }

    private static bool InNetwork(IPAddress ip, IPAddress network, int prefix, bool requireHostBitsClear = false)
    {
        var a = ip.GetAddressBytes();
        var n = network.GetAddressBytes();
        if (a.Length != n.Length) return false;
        for (var i = 0; i < a.Length; i++)
        {
            var bits = Math.Clamp(prefix - i * 8, 0, 8);
            var mask = (byte)(0xFF << (8 - bits));
            if (requireHostBitsClear)
            {
                if ((n[i] & ~mask & 0xFF) != 0) return false;
            }
            else if ((a[i] & mask) != (n[i] & mask)) return false;
        }
        return true;
    }
}
