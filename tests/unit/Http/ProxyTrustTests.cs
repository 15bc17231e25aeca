using System.Net;
using Microsoft.AspNetCore.Http;
using Narwhal.Settings;
using Narwhal.Http;

namespace Narwhal.Tests.Http;

public class ProxyTrustTests
{
    private static readonly Dictionary<string, string> NoHeaders = [];

    private static ProxyTrust Trust(params string[] allowed) => new(allowed, NoHeaders);

    [Theory]
    [InlineData("127.0.0.1", true)]
    [InlineData("::ffff:127.0.0.1", true)] // IPv4-mapped
    [InlineData("127.0.0.2", false)]
    [InlineData("::1", false)]
    public void SingleAddress(string peer, bool trusted) => Assert.Equal(trusted, Trust("127.0.0.1").Trusts(IPAddress.Parse(peer)));

    [Theory]
    [InlineData("10.1.2.3", true)]
    [InlineData("10.255.255.255", true)]
    [InlineData("11.0.0.1", false)]
    [InlineData("192.168.1.7", true)]
    [InlineData("192.168.2.7", false)]
    [InlineData("fd00::1234", true)]
    [InlineData("fe80::1", false)]
    public void CidrNetworks(string peer, bool trusted) =>
        Assert.Equal(trusted, Trust("10.0.0.0/8", "192.168.1.0/24", "fd00::/8").Trusts(IPAddress.Parse(peer)));

    [Theory]
    [InlineData("0.0.0.0/0", "203.0.113.9", true)]
    [InlineData("203.0.113.9/32", "203.0.113.9", true)]
    [InlineData("203.0.113.9/32", "203.0.113.8", false)]
    [InlineData("10.0.0.0/9", "10.127.0.1", true)]
    [InlineData("10.0.0.0/9", "10.128.0.1", false)]
    public void PrefixLengthsAtTheEdges(string network, string peer, bool trusted) =>
        Assert.Equal(trusted, Trust(network).Trusts(IPAddress.Parse(peer)));

    [Fact]
    public void StarTrustsEveryPeer() => Assert.True(Trust("*").Trusts(IPAddress.Parse("198.51.100.1")));

    [Fact]
    public void UnixSocketPeerIsAlwaysTrusted() => Assert.True(Trust("127.0.0.1").Trusts(null));

    [Fact]
    public void NothingListedTrustsNoTcpPeer() => Assert.False(Trust().Trusts(IPAddress.Loopback));

    [Theory]
    [InlineData("example.com", "is not an IP address")]
    [InlineData("10.0.0.0/33", "the prefix must be 0..32")]
    [InlineData("fd00::/129", "the prefix must be 0..128")]
    [InlineData("10.0.0.0/-1", "the prefix must be")]
    [InlineData("10.0.0.0/x", "is not a CIDR network")]
    [InlineData("nope/8", "is not a CIDR network")]
    [InlineData("192.168.1.1/24", "has host bits set")]
    public void BadEntryIsRefusedWithTheReason(string entry, string message) =>
        Assert.Contains(message, Assert.Throws<SettingValueException>(() => Trust(entry)).Message);

    private static readonly Dictionary<string, string> Secure = new()
    {
        ["X-Forwarded-Proto"] = "https",
        ["X-Forwarded-Ssl"] = "on",
    };

    private static HeaderDictionary Headers(params (string, string)[] pairs)
    {
        var d = new HeaderDictionary();
        foreach (var (n, v) in pairs) d.Append(n, v);
        return d;
    }

    [Fact]
    public void MatchingSchemeHeaderMeansHttps()
    {
        var trust = new ProxyTrust(["127.0.0.1"], Secure);
        Assert.Equal("https", trust.Scheme(Headers(("X-Forwarded-Proto", "https")), IPAddress.Loopback, out var conflict));
        Assert.False(conflict);
        Assert.Equal("http", trust.Scheme(Headers(("X-Forwarded-Proto", "http")), IPAddress.Loopback, out _));
        Assert.Null(trust.Scheme(Headers(), IPAddress.Loopback, out _));
    }

    [Fact]
    public void SchemeHeaderFromUntrustedPeerIsIgnored() =>
        Assert.Null(new ProxyTrust(["127.0.0.1"], Secure).Scheme(Headers(("X-Forwarded-Proto", "https")), IPAddress.Parse("10.0.0.1"), out _));

    [Fact]
    public void DisagreeingSchemeHeadersConflict()
    {
        var trust = new ProxyTrust(["127.0.0.1"], Secure);
        trust.Scheme(Headers(("X-Forwarded-Proto", "https"), ("X-Forwarded-Ssl", "on")), IPAddress.Loopback, out var agree);
        Assert.False(agree);
        trust.Scheme(Headers(("X-Forwarded-Proto", "https"), ("X-Forwarded-Ssl", "off")), IPAddress.Loopback, out var conflict);
        Assert.True(conflict);
    }

    [Fact]
    public void DefaultsTrustLoopback()
    {
        var trust = RequestRules.From(new Config()).Forwarded;
        Assert.True(trust.Trusts(IPAddress.Loopback));
        Assert.True(trust.Trusts(IPAddress.IPv6Loopback));
        Assert.False(trust.Trusts(IPAddress.Parse("10.0.0.1")));
    }
}
