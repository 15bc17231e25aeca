using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Narwhal.Http;

namespace Narwhal.Tests.Http;

/// <summary>Gunicorn's request rules on a request as Kestrel parsed it; 0 lets it through.</summary>
public sealed class RequestPolicyTests : IDisposable
{
    public RequestPolicyTests() => Reset();

    public void Dispose() => Reset();

    // The per-worker switches, as a worker with default settings has them.
    private static void Reset()
    {
        RequestPolicy.PermitUnconventionalMethod = false;
        RequestPolicy.CasefoldMethod = false;
        RequestLimits.Current = new RequestLimits(4094, 100, RequestLimits.DefaultFieldSize);
        HeaderMap.Mode = HeaderMapMode.Drop;
        HeaderMap.ForwarderHeaders = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
    }

    private static HttpRequestFeature Request(string method = "GET", string target = "/", string protocol = "HTTP/1.1",
        params (string Name, string Value)[] headers)
    {
        var request = new HttpRequestFeature { Method = method, RawTarget = target, Protocol = protocol, Headers = new HeaderDictionary() };
        foreach (var (name, value) in headers) request.Headers.Append(name, value);
        return request;
    }

    [Fact]
    public void PlainRequestPasses() => Assert.Equal(0, RequestPolicy.Check(Request(headers: ("Host", "example.com")), false));

    [Theory]
    [InlineData("GET", 0)]
    [InlineData("PROPFIND", 0)]
    [InlineData("MKCALENDAR", 0)]
    [InlineData("get", 400)] // lower case
    [InlineData("GE", 400)] // under 3 characters
    [InlineData("ABCDEFGHIJKLMNOPQRSTU", 400)] // over 20
    [InlineData("GE#T", 400)]
    public void MethodFollowsGunicornsConvention(string method, int status) =>
        Assert.Equal(status, RequestPolicy.Check(Request(method), false));

    [Fact]
    public void UnconventionalMethodPassesWhenPermitted()
    {
        RequestPolicy.PermitUnconventionalMethod = true;
        Assert.Equal(0, RequestPolicy.Check(Request("get"), false));
    }

    [Theory]
    [InlineData("/a%20b?x=1", 0)]
    [InlineData("/a\tb", 400)]
    [InlineData("/a b", 400)]
    [InlineData("/a\u0001b", 400)]
    [InlineData("/a\u007fb", 400)]
    public void TargetHasNoControlOrSpace(string target, int status) =>
        Assert.Equal(status, RequestPolicy.Check(Request(target: target), false));

    [Fact]
    public void RequestLineLimitCountsTheLineWithoutCrlf()
    {
        RequestLimits.Current = new RequestLimits(20, 100, RequestLimits.DefaultFieldSize);
        // "GET /123456 HTTP/1.1" is 20 characters.
        Assert.Equal(0, RequestPolicy.Check(Request(target: "/123456"), false));
        Assert.Equal(400, RequestPolicy.Check(Request(target: "/1234567"), false));
    }

    [Fact]
    public void ZeroRequestLineLimitIsUnlimited()
    {
        RequestLimits.Current = new RequestLimits(0, 100, RequestLimits.DefaultFieldSize);
        Assert.Equal(0, RequestPolicy.Check(Request(target: "/" + new string('a', 20000)), false));
    }

    [Theory]
    [InlineData("X-Custom", 0)]
    [InlineData("Transfer/Encoding", 400)]
    [InlineData("X Y", 400)]
    [InlineData("Caf\u00e9", 400)]
    public void FieldNameIsAToken(string name, int status) =>
        Assert.Equal(status, RequestPolicy.Check(Request(headers: (name, "v")), false));

    [Theory]
    [InlineData("a\tb", 0)] // HTAB is allowed
    [InlineData("caf\u00e9", 0)] // obs-text
    [InlineData("a\u0007b", 400)]
    [InlineData("a\u007fb", 400)]
    [InlineData("a\u0000b", 400)]
    [InlineData("a\nb", 400)]
    public void FieldValueHasNoControlButTab(string value, int status) =>
        Assert.Equal(status, RequestPolicy.Check(Request(headers: ("X-Value", value)), false));

    [Fact]
    public void FieldSizeCountsNameColonSpaceValueCrlf()
    {
        RequestLimits.Current = new RequestLimits(4094, 100, 10);
        Assert.Equal(0, RequestPolicy.Check(Request(headers: ("Ab", "1234")), false)); // "Ab: 1234\r\n" is 10
        Assert.Equal(431, RequestPolicy.Check(Request(headers: ("Ab", "12345")), false));
    }

    [Fact]
    public void UnderscoreNameIsRefusedOnlyUnderHeaderMapRefuse()
    {
        var request = Request(headers: ("X_User", "a"));
        Assert.Equal(0, RequestPolicy.Check(request, false));
        HeaderMap.Mode = HeaderMapMode.Refuse;
        Assert.Equal(400, RequestPolicy.Check(request, false));
        HeaderMap.ForwarderHeaders = new HashSet<string>(["X_User"], StringComparer.OrdinalIgnoreCase);
        Assert.Equal(0, RequestPolicy.Check(request, true));
        Assert.Equal(400, RequestPolicy.Check(request, false));
    }

    [Theory]
    [InlineData("Content-Length")]
    [InlineData("X-Content-Length")] // where Kestrel moves a Content-Length it framed by Transfer-Encoding
    public void ContentLengthBesideTransferEncodingIsRefused(string name)
    {
        Assert.Equal(0, RequestPolicy.Check(Request("POST", headers: ("Transfer-Encoding", "chunked")), false));
        Assert.Equal(400, RequestPolicy.Check(Request("POST", headers: [("Transfer-Encoding", "chunked"), (name, "3")]), false));
    }

    [Fact]
    public void TransferEncodingInHttp10IsRefused()
    {
        Assert.Equal(0, RequestPolicy.Check(Request("POST", protocol: "HTTP/1.0", headers: ("Content-Length", "3")), false));
        Assert.Equal(400, RequestPolicy.Check(Request("POST", protocol: "HTTP/1.0", headers: ("Transfer-Encoding", "chunked")), false));
    }

    [Fact]
    public void RepeatedContentTypeIsRefused()
    {
        Assert.Equal(0, RequestPolicy.Check(Request(headers: ("Content-Type", "text/plain")), false));
        Assert.Equal(400, RequestPolicy.Check(Request(headers: [("Content-Type", "text/plain"), ("Content-Type", "text/html")]), false));
    }

    [Fact]
    public void ScriptNameFromTrustedForwarderMustPrefixThePath()
    {
        HeaderMap.ForwarderHeaders = new HashSet<string>(["SCRIPT_NAME"], StringComparer.OrdinalIgnoreCase);
        Assert.Equal(0, RequestPolicy.Check(Request(target: "/app/page", headers: ("SCRIPT_NAME", "/app")), true));
        Assert.Equal(400, RequestPolicy.Check(Request(target: "/other/page", headers: ("SCRIPT_NAME", "/app")), true));
        // From an untrusted peer the header never counts (it is dropped).
        Assert.Equal(0, RequestPolicy.Check(Request(target: "/other/page", headers: ("SCRIPT_NAME", "/app")), false));
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
