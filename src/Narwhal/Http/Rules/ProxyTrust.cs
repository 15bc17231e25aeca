using System.Net;
using Microsoft.AspNetCore.Http;
using Narwhal.Settings;
using Narwhal.Syntax;

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
    private readonly AddressList _peers;
    private readonly KeyValuePair<string, string>[] _schemeHeaders;

    public ProxyTrust(IReadOnlyList<string> allowed, IReadOnlyDictionary<string, string> schemeHeaders)
    {
        try
        {
            _peers = new AddressList(allowed);
        }
        catch (FormatException e)
        {
            throw new SettingValueException(e.Message);
        }
        _schemeHeaders = schemeHeaders.ToArray();
    }

    /// <summary>Whether <paramref name="peer"/> (null: a unix socket) may set scheme headers.</summary>
    public bool Trusts(IPAddress? peer)
    {
        return peer is null || _peers.Contains(peer);
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
}
