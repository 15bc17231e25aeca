using System.Net;

namespace Narwhal.Syntax;

/// <summary>
/// A list of peers as forwarded_allow_ips and proxy_allow_ips write it: '*', IP addresses and
/// CIDR networks. IPv4-mapped IPv6 peers match their IPv4 entries.
/// </summary>
internal sealed class AddressList
{
    private readonly bool _any;
    private readonly HashSet<IPAddress> _addresses = [];
    private readonly List<(IPAddress Network, int Prefix)> _networks = [];

    /// <summary>Throws <see cref="FormatException"/> naming the first entry that is none of those.</summary>
    public AddressList(IEnumerable<string> entries)
    {
        foreach (var entry in entries)
        {
            if (entry == "*") _any = true;
            else if (TryParseNetwork(entry, out var network, out var prefix)) _networks.Add((network, prefix));
            else if (IPAddress.TryParse(entry, out var ip)) _addresses.Add(Normalize(ip));
            else throw new FormatException($"'{entry}' is not an IP address, a CIDR network or '*'");
        }
    }

    public bool Contains(IPAddress peer)
    {
        if (_any) return true;
        peer = Normalize(peer);
        if (_addresses.Contains(peer)) return true;
        foreach (var (network, prefix) in _networks)
            if (InNetwork(peer, network, prefix)) return true;
        return false;
    }

    private static IPAddress Normalize(IPAddress ip) => ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip;

    private static bool TryParseNetwork(string entry, out IPAddress network, out int prefix)
    {
        network = IPAddress.None;
        prefix = 0;
        var slash = entry.IndexOf('/');
        if (slash < 0) return false;
        if (!IPAddress.TryParse(entry[..slash], out var ip) || !int.TryParse(entry[(slash + 1)..], out prefix))
            throw new FormatException($"'{entry}' is not a CIDR network");
        var bits = ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128;
        if (prefix < 0 || prefix > bits) throw new FormatException($"'{entry}': the prefix must be 0..{bits}");
        // Gunicorn (24.1+) is strict: host bits set (192.168.1.1/24) is a mistake, not a network.
        if (!InNetwork(ip, ip, prefix, requireHostBitsClear: true))
            throw new FormatException($"'{entry}' has host bits set; did you mean the network address?");
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
