using System.Text.RegularExpressions;
using Microsoft.Extensions.Primitives;
using Narwhal.Logging;

namespace Narwhal.Tests.Logging;

/// <summary>Gunicorn's access-log atoms and its %-format, on one answered request.</summary>
public class AccessFormatTests
{
    private static KeyValuePair<string, StringValues> H(string name, params string[] values) => new(name, new StringValues(values));

    private static AccessRecord Record(bool serverError = false, params KeyValuePair<string, StringValues>[] requestHeaders) => new()
    {
        RemoteAddr = "10.0.0.7",
        Method = "GET",
        RawUri = "/caf%C3%A9/x?q=1&r=\"2\"",
        Protocol = "HTTP/1.1",
        Status = 200,
        Sent = 1234,
        Duration = TimeSpan.FromTicks(2 * TimeSpan.TicksPerSecond + 345_678_9),
        RequestHeaders = requestHeaders,
        ResponseHeaders = [H("Content-Type", "text/html"), H("X-Quoted", "say \"hi\"")],
        Environ = new Dictionary<string, string> { ["remote_user"] = "env-user" },
        ServerError = serverError,
    };

    private static string Format(string format, AccessRecord r) => new AccessFormat(format).Format(r);

    private static readonly KeyValuePair<string, StringValues>[] Browser =
    [
        H("Referer", "http://example.com/"),
        H("User-Agent", "curl/8"),
        H("Authorization", "Basic " + Convert.ToBase64String("alice:secret"u8.ToArray())),
    ];

    [Theory]
    [InlineData("h", "10.0.0.7")]
    [InlineData("l", "-")]
    [InlineData("u", "alice")]
    [InlineData("r", "GET /caf%C3%A9/x?q=1&r=\\\"2\\\" HTTP/1.1")] // '"' escaped as SafeAtoms does
    [InlineData("m", "GET")]
    [InlineData("U", "/café/x")] // percent-decoded to latin-1 text of the UTF-8 bytes
    [InlineData("q", "q=1&r=\\\"2\\\"")]
    [InlineData("H", "HTTP/1.1")]
    [InlineData("s", "200")]
    [InlineData("B", "1234")]
    [InlineData("b", "1234")]
    [InlineData("f", "http://example.com/")]
    [InlineData("a", "curl/8")]
    [InlineData("T", "2")]
    [InlineData("D", "2345678")]
    [InlineData("M", "2345")]
    [InlineData("L", "2.345678")]
    [InlineData("{user-agent}i", "curl/8")]
    [InlineData("{USER-AGENT}i", "curl/8")]
    [InlineData("{x-missing}i", "-")]
    [InlineData("{content-type}o", "text/html")]
    [InlineData("{x-quoted}o", "say \\\"hi\\\"")]
    [InlineData("{REMOTE_USER}e", "env-user")]
    [InlineData("{missing}e", "-")]
    [InlineData("nonsense", "-")]
    public void EveryAtom(string atom, string expected)
    {
        // U is the latin-1 reading of the decoded bytes (PEP 3333), so é arrives as two characters.
        expected = expected.Replace("é", "\u00c3\u00a9");
        Assert.Equal(expected, Format($"%({atom})s", Record(false, Browser)));
    }

    [Fact]
    public void ProcessAtom() => Assert.Equal($"<{Environment.ProcessId}>", Format("%(p)s", Record()));

    [Fact]
    public void TimeAtomIsGunicornsBracketedDate() =>
        Assert.Matches(new Regex(@"^\[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]$"), Format("%(t)s", Record()));

    [Fact]
    public void WithoutTheHeadersTheAtomsAreDashes()
    {
        Assert.Equal("- - -", Format("%(u)s %(f)s %(a)s", Record()));
    }

    [Theory]
    [InlineData("Bearer abc")]
    [InlineData("Basic !!!notbase64")]
    [InlineData("Basic bm9jb2xvbg==")] // "nocolon"
    public void UserIsDashUnlessBasicAuthHasOne(string authorization) =>
        Assert.Equal("-", Format("%(u)s", Record(false, H("Authorization", authorization))));

    [Fact]
    public void RepeatedHeaderGivesTheLastValue() =>
        Assert.Equal("b", Format("%({x-h}i)s", Record(false, H("X-H", "a"), H("x-h", "b"))));

    [Fact]
    public void ServerErrorLogsFromABareEnviron()
    {
        var r = Record(true, Browser);
        Assert.Equal("None - - - GET", Format("%(U)s %(u)s %(f)s %(a)s %({request_method}e)s", r));
        Assert.Equal("-", Format("%({remote_user}e)s", r));
    }

    [Fact]
    public void GunicornsDefaultFormat() =>
        Assert.Matches(new Regex("""^10\.0\.0\.7 - alice \[[^\]]+\] "GET /caf%C3%A9/x\?q=1&r=\\"2\\" HTTP/1.1" 200 1234 "http://example.com/" "curl/8"$"""),
            Format(Narwhal.Settings.LoggingSettings.AccessLogFormat.Default(), Record(false, Browser)));

    [Theory]
    [InlineData("%(s)d", "200")] // a string atom under %d is shown as it is
    [InlineData("%(B)d", "1234")]
    [InlineData("%(D)i", "2345678")]
    [InlineData("%(m)r", "'GET'")]
    [InlineData("%(B)r", "1234")]
    [InlineData("%(U)r", "None")]
    public void Conversions(string format, string expected)
    {
        var r = format.Contains("(U)") ? Record(true) : Record();
        Assert.Equal(expected, Format(format, r));
    }

    [Theory]
    [InlineData("[%(m)6s]", "[   GET]")]
    [InlineData("[%(m)-6s]", "[GET   ]")]
    [InlineData("[%(m)2s]", "[GET]")]
    public void Width(string format, string expected) => Assert.Equal(expected, Format(format, Record()));

    [Theory]
    [InlineData("100%%", "100%")]
    [InlineData("50% off", "50% off")] // a lone % stays
    [InlineData("end %", "end %")]
    [InlineData("%(m", "%(m")] // no closing parenthesis
    [InlineData("%(m)x", "%(m)x")] // not a conversion
    [InlineData("%(m)", "%(m)")]
    public void LiteralsAndMalformedAtoms(string format, string expected) => Assert.Equal(expected, Format(format, Record()));

    [Fact]
    public void EnvironKeysAreTheEAtomsLowercased() =>
        Assert.Equal(["remote_user", "x"], new AccessFormat("%({REMOTE_USER}e)s %({x}e)s %({remote_user}e)s %({y}i)s").EnvironKeys);
}
