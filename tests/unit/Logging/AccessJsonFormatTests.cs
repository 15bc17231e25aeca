using System.Text.Json;
using Microsoft.Extensions.Primitives;
using Narwhal.Logging;
using Narwhal.Settings;

namespace Narwhal.Tests.Logging;

/// <summary>The JSON access log line: its schema, types, field choice and hostile values.</summary>
public class AccessJsonFormatTests
{
    private static KeyValuePair<string, StringValues> H(string name, params string[] values) => new(name, new StringValues(values));

    // What a hostile client can put in a head, as Kestrel hands it over (Latin-1: one char per byte).
    private const string Hostile = "\u0001\u007f\u00ff\u00c3\u00a9 \"quoted\" back\\slash \t end";

    private static AccessRecord Record(params KeyValuePair<string, StringValues>[] requestHeaders) => new()
    {
        RemoteAddr = "10.0.0.7",
        Method = "GET",
        RawUri = "/caf%C3%A9/%FF\"x\\?q=\"1\"&r=\\",
        Protocol = "HTTP/1.1",
        Status = 404,
        Sent = 1234,
        Duration = TimeSpan.FromTicks(2 * TimeSpan.TicksPerSecond + 345_678_9),
        RequestHeaders = requestHeaders,
        ResponseHeaders = [H("Content-Type", "text/html"), H("Set-Cookie", "a=1", "b=2"), H("X-Echo", Hostile)],
        Environ = new Dictionary<string, string> { ["remote_user"] = "env \"user\"", ["wsgi.url_scheme"] = "http" },
    };

    private static readonly KeyValuePair<string, StringValues>[] Browser =
    [
        H("Host", "example.com"),
        H("Referer", "http://example.com/\"ref\""),
        H("User-Agent", Hostile),
        H("Authorization", "Basic " + Convert.ToBase64String("al\"ice:secret"u8.ToArray())),
        H("Cookie", "session=s3cret"),
        H("X-Many", "one", "two"),
    ];

    private static JsonElement Parse(string line)
    {
        Assert.All(line, c => Assert.InRange(c, ' ', '~'));
        return JsonDocument.Parse(line).RootElement;
    }

    private static string Line(AccessRecord r, params string[] fields) => new AccessJsonFormat(fields).Format(r);

    [Fact]
    public void EveryFieldByDefaultTypedAndInSchemaOrder()
    {
        var json = Parse(Line(Record(Browser)));
        var names = json.EnumerateObject().Select(p => p.Name).ToArray();
        Assert.Equal(AccessJsonFields.All, names);
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$", json.GetProperty("time").GetString());
        Assert.Equal("10.0.0.7", json.GetProperty("remote_addr").GetString());
        Assert.Equal("al\"ice", json.GetProperty("user").GetString());
        Assert.Equal("GET /caf%C3%A9/%FF\"x\\?q=\"1\"&r=\\ HTTP/1.1", json.GetProperty("request_line").GetString());
        Assert.Equal("GET", json.GetProperty("method").GetString());
        Assert.Equal("/caf\u00c3\u00a9/\u00ff\"x\\", json.GetProperty("path").GetString()); // PATH_INFO: bytes as Latin-1
        Assert.Equal("q=\"1\"&r=\\", json.GetProperty("query").GetString());
        Assert.Equal("HTTP/1.1", json.GetProperty("protocol").GetString());
        Assert.Equal(404, json.GetProperty("status").GetInt32());
        Assert.Equal(1234, json.GetProperty("bytes").GetInt64());
        Assert.Equal("http://example.com/\"ref\"", json.GetProperty("referer").GetString());
        Assert.Equal(Hostile, json.GetProperty("user_agent").GetString());
        Assert.Equal(2.345678m, json.GetProperty("duration").GetDecimal());
        Assert.Equal(2, json.GetProperty("duration_s").GetInt64());
        Assert.Equal(2345, json.GetProperty("duration_ms").GetInt64());
        Assert.Equal(2345678, json.GetProperty("duration_us").GetInt64());
        Assert.Equal(Environment.ProcessId, json.GetProperty("pid").GetInt32());
    }

    [Fact]
    public void HeaderObjectsLowercaseJoinRepeatsAndRedactCredentials()
    {
        var json = Parse(Line(Record(Browser)));
        var request = json.GetProperty("request_headers");
        Assert.Equal(["host", "referer", "user-agent", "authorization", "cookie", "x-many"], request.EnumerateObject().Select(p => p.Name));
        Assert.Equal("[redacted]", request.GetProperty("authorization").GetString());
        Assert.Equal("[redacted]", request.GetProperty("cookie").GetString());
        Assert.Equal("one, two", request.GetProperty("x-many").GetString());
        Assert.Equal(Hostile, request.GetProperty("user-agent").GetString());
        var response = json.GetProperty("response_headers");
        Assert.Equal("[redacted]", response.GetProperty("set-cookie").GetString());
        Assert.Equal(Hostile, response.GetProperty("x-echo").GetString());
    }

    [Fact]
    public void ChosenFieldsOnlyAndNamedHeadersAreWrittenAsSent()
    {
        var json = Parse(Line(Record(Browser), "status", "time", "request_headers.Cookie", "request_headers.x-absent",
            "response_headers.set-cookie", "environ.REMOTE_USER", "environ.wsgi.url_scheme", "environ.nope"));
        Assert.Equal(["time", "status", "request_headers", "response_headers", "environ"], json.EnumerateObject().Select(p => p.Name));
        Assert.Equal("session=s3cret", json.GetProperty("request_headers").GetProperty("cookie").GetString());
        Assert.Equal(JsonValueKind.Null, json.GetProperty("request_headers").GetProperty("x-absent").ValueKind);
        Assert.Equal("a=1, b=2", json.GetProperty("response_headers").GetProperty("set-cookie").GetString());
        var environ = json.GetProperty("environ");
        Assert.Equal("env \"user\"", environ.GetProperty("REMOTE_USER").GetString());
        Assert.Equal("http", environ.GetProperty("wsgi.url_scheme").GetString());
        Assert.Equal(JsonValueKind.Null, environ.GetProperty("nope").ValueKind);
        Assert.Equal(["remote_user", "wsgi.url_scheme", "nope"], new AccessJsonFormat(["environ.REMOTE_USER", "environ.wsgi.url_scheme", "environ.nope"]).EnvironKeys);
    }

    [Fact]
    public void AbsentValuesAreNull()
    {
        var json = Parse(Line(Record(), "user", "referer", "user_agent", "request_headers"));
        Assert.Equal(JsonValueKind.Null, json.GetProperty("user").ValueKind);
        Assert.Equal(JsonValueKind.Null, json.GetProperty("referer").ValueKind);
        Assert.Equal(JsonValueKind.Null, json.GetProperty("user_agent").ValueKind);
        Assert.Empty(json.GetProperty("request_headers").EnumerateObject());
    }

    [Fact]
    public void EveryByteOfAHeaderValueReadsBack()
    {
        var bytes = Enumerable.Range(0, 256).Select(i => (char)i).ToArray();
        var value = new string(bytes) + new string('\\', 3000) + new string('"', 3000);
        var json = Parse(Line(Record(H("X-All", value)), "request_headers"));
        Assert.Equal(value, json.GetProperty("request_headers").GetProperty("x-all").GetString());
    }

    [Theory]
    [InlineData("status,nope")]
    [InlineData("request_headers.")]
    [InlineData("environ")]
    [InlineData("l")]
    public void UnknownFieldsAreRefusedWithTheAllowedOnes(string raw)
    {
        var e = Assert.Throws<SettingValueException>(() => AccessJsonFields.Validate(raw));
        Assert.Contains("is not a field (allowed: time, remote_addr,", e.Message);
        Assert.Contains("request_headers.NAME, response_headers.NAME, environ.KEY)", e.Message);
    }
}
