using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Narwhal.Http;
using Narwhal.Settings;

namespace Narwhal.Tests.Http;

/// <summary>Gunicorn's request rules on a request as Kestrel parsed it; 0 lets it through.</summary>
public sealed class RequestPolicyTests
{
    // The rules of a worker with default settings, but for forwarder_headers (none here).
    private static readonly RequestRules Defaults = RequestRules.From(new Config()) with
    {
        HeaderMap = new HeaderMap(HeaderMapMode.Drop, []),
    };

    private static int Check(HttpRequestFeature request, bool fromTrustedForwarder, RequestRules? rules = null) =>
        RequestPolicy.Check(rules ?? Defaults, request, fromTrustedForwarder);

    private static HttpRequestFeature Request(string method = "GET", string target = "/", string protocol = "HTTP/1.1",
        params (string Name, string Value)[] headers)
    {
        var request = new HttpRequestFeature { Method = method, RawTarget = target, Protocol = protocol, Headers = new HeaderDictionary() };
        foreach (var (name, value) in headers) request.Headers.Append(name, value);
        return request;
    }

    [Fact]
    public void PlainRequestPasses() => Assert.Equal(0, Check(Request(headers: ("Host", "example.com")), false));

    [Theory]
    [InlineData("GET", 0)]
    [InlineData("PROPFIND", 0)]
    [InlineData("MKCALENDAR", 0)]
    [InlineData("get", 400)] // lower case
    [InlineData("GE", 400)] // under 3 characters
    [InlineData("ABCDEFGHIJKLMNOPQRSTU", 400)] // over 20
    [InlineData("GE#T", 400)]
    public void MethodFollowsGunicornsConvention(string method, int status) =>
        Assert.Equal(status, Check(Request(method), false));

    [Fact]
    public void UnconventionalMethodPassesWhenPermitted()
    {
        Assert.Equal(0, Check(Request("get"), false, Defaults with { PermitUnconventionalMethod = true }));
    }

    [Theory]
    [InlineData("/a%20b?x=1", 0)]
    [InlineData("/a\tb", 400)]
    [InlineData("/a b", 400)]
    [InlineData("/a\u0001b", 400)]
    [InlineData("/a\u007fb", 400)]
    public void TargetHasNoControlOrSpace(string target, int status) =>
        Assert.Equal(status, Check(Request(target: target), false));

    [Fact]
    public void RequestLineLimitCountsTheLineWithoutCrlf()
    {
        var rules = Defaults with { Limits = new RequestLimits(20, 100, RequestLimits.DefaultFieldSize) };
        // "GET /123456 HTTP/1.1" is 20 characters.
        Assert.Equal(0, Check(Request(target: "/123456"), false, rules));
        Assert.Equal(400, Check(Request(target: "/1234567"), false, rules));
    }

    [Fact]
    public void ZeroRequestLineLimitIsUnlimited()
    {
        var rules = Defaults with { Limits = new RequestLimits(0, 100, RequestLimits.DefaultFieldSize) };
        Assert.Equal(0, Check(Request(target: "/" + new string('a', 20000)), false, rules));
    }

    [Theory]
    [InlineData("X-Custom", 0)]
    [InlineData("Transfer/Encoding", 400)]
    [InlineData("X Y", 400)]
    [InlineData("Caf\u00e9", 400)]
    public void FieldNameIsAToken(string name, int status) =>
        Assert.Equal(status, Check(Request(headers: (name, "v")), false));

    [Theory]
    [InlineData("a\tb", 0)] // HTAB is allowed
    [InlineData("caf\u00e9", 0)] // obs-text
    [InlineData("a\u0007b", 400)]
    [InlineData("a\u007fb", 400)]
    [InlineData("a\u0000b", 400)]
    [InlineData("a\nb", 400)]
    public void FieldValueHasNoControlButTab(string value, int status) =>
        Assert.Equal(status, Check(Request(headers: ("X-Value", value)), false));

    [Fact]
    public void FieldSizeCountsNameColonSpaceValueCrlf()
    {
        var rules = Defaults with { Limits = new RequestLimits(4094, 100, 10) };
        Assert.Equal(0, Check(Request(headers: ("Ab", "1234")), false, rules)); // "Ab: 1234\r\n" is 10
        Assert.Equal(431, Check(Request(headers: ("Ab", "12345")), false, rules));
    }

    [Fact]
    public void UnderscoreNameIsRefusedOnlyUnderHeaderMapRefuse()
    {
        var request = Request(headers: ("X_User", "a"));
        Assert.Equal(0, Check(request, false));
        var refuse = Defaults with { HeaderMap = new HeaderMap(HeaderMapMode.Refuse, []) };
        Assert.Equal(400, Check(request, false, refuse));
        var forwarded = Defaults with { HeaderMap = new HeaderMap(HeaderMapMode.Refuse, ["X_User"]) };
        Assert.Equal(0, Check(request, true, forwarded));
        Assert.Equal(400, Check(request, false, forwarded));
    }

    [Theory]
    [InlineData("Content-Length")]
    [InlineData("X-Content-Length")] // where Kestrel moves a Content-Length it framed by Transfer-Encoding
    public void ContentLengthBesideTransferEncodingIsRefused(string name)
    {
        Assert.Equal(0, Check(Request("POST", headers: ("Transfer-Encoding", "chunked")), false));
        Assert.Equal(400, Check(Request("POST", headers: [("Transfer-Encoding", "chunked"), (name, "3")]), false));
    }

    [Fact]
    public void TransferEncodingInHttp10IsRefused()
    {
        Assert.Equal(0, Check(Request("POST", protocol: "HTTP/1.0", headers: ("Content-Length", "3")), false));
        Assert.Equal(400, Check(Request("POST", protocol: "HTTP/1.0", headers: ("Transfer-Encoding", "chunked")), false));
    }

    [Fact]
    public void RepeatedContentTypeIsRefused()
    {
        Assert.Equal(0, Check(Request(headers: ("Content-Type", "text/plain")), false));
        Assert.Equal(400, Check(Request(headers: [("Content-Type", "text/plain"), ("Content-Type", "text/html")]), false));
    }

    [Fact]
    public void ScriptNameFromTrustedForwarderMustPrefixThePath()
    {
        var rules = Defaults with { HeaderMap = new HeaderMap(HeaderMapMode.Drop, ["SCRIPT_NAME"]) };
        Assert.Equal(0, Check(Request(target: "/app/page", headers: ("SCRIPT_NAME", "/app")), true, rules));
        Assert.Equal(400, Check(Request(target: "/other/page", headers: ("SCRIPT_NAME", "/app")), true, rules));
        // From an untrusted peer the header never counts (it is dropped).
        Assert.Equal(0, Check(Request(target: "/other/page", headers: ("SCRIPT_NAME", "/app")), false, rules));
    }

    private sealed class TrailerFields(params (string Name, string Value)[] fields) : IHttpRequestTrailersFeature
    {
        public bool Available => true;
        public IHeaderDictionary Trailers { get; } = Build(fields);

        private static HeaderDictionary Build((string Name, string Value)[] fields)
        {
            var d = new HeaderDictionary();
            foreach (var (n, v) in fields) d.Append(n, v);
            return d;
        }
    }

    [Fact]
    public void NoTrailersAreAllowed() => Assert.True(RequestPolicy.TrailersAllowed(null));

    [Theory]
    [InlineData("Vary", "*", true)]
    [InlineData("Content-Type", "text/plain", true)]
    [InlineData("Content-Length", "3", false)]
    [InlineData("Transfer-Encoding", "chunked", false)]
    [InlineData("Host", "evil", false)]
    [InlineData("TE", "trailers", false)]
    [InlineData("Trailer", "X", false)]
    [InlineData("Bad Name", "x", false)]
    [InlineData("X-Value", "a\u0007b", false)]
    public void TrailersThatFrameOrRouteAreRefused(string name, string value, bool allowed) =>
        Assert.Equal(allowed, RequestPolicy.TrailersAllowed(new TrailerFields((name, value))));
}
