using System.Net;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Narwhal.Http;
using Narwhal.Settings;

namespace Narwhal.Tests.Http;

/// <summary>
/// RequestRules built from the settings as a worker builds them (values parsed as the command
/// line parses them), each rule with a request it lets through and one it refuses.
/// </summary>
public class RequestRulesTests
{
    private static RequestRules From(params (string Name, string Raw)[] settings)
    {
        var layer = new SettingsLayer();
        foreach (var (name, raw) in settings) layer.Parse(SettingsRegistry.Find(name)!, raw);
        var config = new Config();
        config.Apply(layer);
        return RequestRules.From(config);
    }

    private static HttpRequestFeature Request(string method = "GET", string target = "/", params (string Name, string Value)[] headers)
    {
        var request = new HttpRequestFeature { Method = method, RawTarget = target, Protocol = "HTTP/1.1", Headers = new HeaderDictionary() };
        foreach (var (name, value) in headers) request.Headers.Append(name, value);
        return request;
    }

    private static int Check(RequestRules rules, HttpRequestFeature request, bool fromTrustedForwarder = false) =>
        RequestPolicy.Check(rules, request, fromTrustedForwarder);

    [Fact]
    public void DefaultsAreGunicorns()
    {
        var rules = From();
        Assert.Equal(new RequestLimits(4094, 100, 8190), rules.Limits);
        Assert.Equal(HeaderMapMode.Drop, rules.HeaderMap.Mode);
        Assert.False(rules.PermitUnconventionalMethod);
        Assert.False(rules.CasefoldMethod);
        Assert.False(rules.PermitObsoleteFolding);
        Assert.False(rules.StripHeaderSpaces);
        Assert.False(rules.Lenient);
        Assert.Equal(RequestLimits.KestrelRequestLine + rules.Limits.HeadersTotal, rules.MaxHead);
        Assert.True(rules.Forwarded.Trusts(IPAddress.Loopback));
        Assert.False(rules.Forwarded.Trusts(IPAddress.Parse("10.0.0.1")));
    }

    [Fact]
    public void LimitRequestLine()
    {
        // "GET /123456 HTTP/1.1" is 20 characters.
        var rules = From(("limit_request_line", "20"));
        Assert.Equal(0, Check(rules, Request(target: "/123456")));
        Assert.Equal(400, Check(rules, Request(target: "/1234567")));
    }

    [Fact]
    public void LimitRequestFieldSize()
    {
        var rules = From(("limit_request_field_size", "10"));
        Assert.Equal(0, Check(rules, Request(headers: ("Ab", "1234")))); // "Ab: 1234\r\n"
        Assert.Equal(431, Check(rules, Request(headers: ("Ab", "12345"))));
    }

    [Fact]
    public void LimitRequestFieldsIsKestrels() =>
        // Kestrel counts the fields (KestrelHost sets MaxRequestHeaderCount from it).
        Assert.Equal(7, From(("limit_request_fields", "7")).Limits.Fields);

    [Fact]
    public void PermitUnconventionalHttpMethod()
    {
        Assert.Equal(400, Check(From(), Request("get")));
        Assert.Equal(0, Check(From(("permit_unconventional_http_method", "true")), Request("get")));
    }

    [Fact]
    public void CasefoldHttpMethod()
    {
        // The exchange upper-cases the method when this is on (KestrelExchange.Method).
        Assert.False(From().CasefoldMethod);
        Assert.True(From(("casefold_http_method", "true")).CasefoldMethod);
    }

    [Fact]
    public void HeaderMapDropLetsTheRequestThroughButNotTheHeader()
    {
        var rules = From(("header_map", "drop"));
        Assert.Equal(0, Check(rules, Request(headers: ("X_User", "a"))));
        Assert.False(rules.HeaderMap.Passes("X_User", fromTrustedForwarder: false));
    }

    [Fact]
    public void HeaderMapRefuse()
    {
        var rules = From(("header_map", "refuse"));
        Assert.Equal(0, Check(rules, Request(headers: ("X-User", "a"))));
        Assert.Equal(400, Check(rules, Request(headers: ("X_User", "a"))));
    }

    [Fact]
    public void HeaderMapDangerousPassesEveryName()
    {
        Assert.True(From(("header_map", "dangerous")).HeaderMap.Passes("X_User", fromTrustedForwarder: false));
        Assert.False(From().HeaderMap.Passes("X_User", fromTrustedForwarder: false));
    }

    [Fact]
    public void ForwarderHeadersPassOnlyFromATrustedForwarder()
    {
        var rules = From(("forwarder_headers", "X_User"), ("header_map", "refuse"));
        Assert.True(rules.HeaderMap.Passes("x_user", fromTrustedForwarder: true));
        Assert.False(rules.HeaderMap.Passes("X_User", fromTrustedForwarder: false));
        Assert.False(rules.HeaderMap.Passes("SCRIPT_NAME", fromTrustedForwarder: true)); // no longer listed
        Assert.Equal(0, Check(rules, Request(headers: ("X_User", "a")), fromTrustedForwarder: true));
        Assert.Equal(400, Check(rules, Request(headers: ("X_User", "a")), fromTrustedForwarder: false));
        Assert.True(From(("forwarder_headers", "*")).HeaderMap.Passes("Anything_Else", fromTrustedForwarder: true));
    }

    [Fact]
    public void ForwarderHeadersDefaultToScriptNameAndPathInfo()
    {
        var rules = From();
        Assert.True(rules.HeaderMap.Passes("SCRIPT_NAME", fromTrustedForwarder: true));
        Assert.True(rules.HeaderMap.Passes("PATH_INFO", fromTrustedForwarder: true));
        // The SCRIPT_NAME a trusted front-end sends must prefix the path.
        Assert.Equal(0, Check(rules, Request(target: "/app/x", headers: ("SCRIPT_NAME", "/app")), fromTrustedForwarder: true));
        Assert.Equal(400, Check(rules, Request(target: "/other", headers: ("SCRIPT_NAME", "/app")), fromTrustedForwarder: true));
    }

    [Fact]
    public void ForwardedAllowIpsAndSecureSchemeHeaders()
    {
        var rules = From(("forwarded_allow_ips", "10.0.0.0/8"), ("secure_scheme_headers", "{\"X-PROTO\": \"https\"}"));
        var headers = new HeaderDictionary { ["X-Proto"] = "https" };
        Assert.Equal("https", rules.Forwarded.Scheme(headers, IPAddress.Parse("10.1.2.3"), out var conflict));
        Assert.False(conflict);
        Assert.Null(rules.Forwarded.Scheme(headers, IPAddress.Parse("192.168.1.1"), out _));
        Assert.Equal("http", rules.Forwarded.Scheme(new HeaderDictionary { ["X-Proto"] = "ftp" }, IPAddress.Parse("10.1.2.3"), out _));
    }

    [Fact]
    public void PermitObsoleteFolding()
    {
        var folded = Encoding.Latin1.GetBytes("GET / HTTP/1.1\r\nX-Long: a\r\n b\r\nHost: h\r\n\r\n");
        // Off: the head goes to Kestrel as sent, and Kestrel refuses the folded line.
        Assert.Equal(folded, Http1FramerCorpusTests.Frame(From(), folded, []).PassedOn);
        // On: rewritten as Gunicorn reads it.
        Assert.Equal("GET / HTTP/1.1\r\nX-Long: a b\r\nHost: h\r\n\r\n",
            Encoding.Latin1.GetString(Http1FramerCorpusTests.Frame(From(("permit_obsolete_folding", "true")), folded, []).PassedOn));
    }

    [Fact]
    public void StripHeaderSpaces()
    {
        var spaced = Encoding.Latin1.GetBytes("GET / HTTP/1.1\r\nHost : h\r\n\r\n");
        Assert.Equal(spaced, Http1FramerCorpusTests.Frame(From(), spaced, []).PassedOn);
        Assert.Equal("GET / HTTP/1.1\r\nHost: h\r\n\r\n",
            Encoding.Latin1.GetString(Http1FramerCorpusTests.Frame(From(("strip_header_spaces", "true")), spaced, []).PassedOn));
    }

    [Fact]
    public void AFoldedFieldPastLimitRequestFieldSizeIsLeftToKestrel()
    {
        var folded = Encoding.Latin1.GetBytes("GET / HTTP/1.1\r\nX-Long: aaaa\r\n bbbb\r\n\r\n");
        var fits = From(("permit_obsolete_folding", "true"), ("limit_request_field_size", "40"));
        Assert.Equal("GET / HTTP/1.1\r\nX-Long: aaaa bbbb\r\n\r\n", Encoding.Latin1.GetString(Http1FramerCorpusTests.Frame(fits, folded, []).PassedOn));
        var tooLong = From(("permit_obsolete_folding", "true"), ("limit_request_field_size", "15"));
        Assert.Equal(folded, Http1FramerCorpusTests.Frame(tooLong, folded, []).PassedOn);
    }

    [Fact]
    public void ABadForwardedAllowIpsIsRefusedWhenParsedNotWhenTheRulesAreBuilt()
    {
        // The setting's validator refuses it, so RequestRules.From never sees a bad list.
        var e = Assert.ThrowsAny<Exception>(() => From(("forwarded_allow_ips", "192.168.1.1/24")));
        Assert.Contains("host bits set", e.Message);
    }

    private sealed class TrailerFields(string name, string value) : IHttpRequestTrailersFeature
    {
        public bool Available => true;
        public IHeaderDictionary Trailers { get; } = new HeaderDictionary { [name] = value };
    }

    [Fact]
    public void ChunkedTrailersMustNotFrameOrRoute()
    {
        Assert.True(RequestPolicy.TrailersAllowed(new TrailerFields("X-Checksum", "abc")));
        Assert.False(RequestPolicy.TrailersAllowed(new TrailerFields("Content-Length", "3")));
    }
}
