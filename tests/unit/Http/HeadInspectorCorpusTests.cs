using System.Buffers;
using System.Text;
using Narwhal.Settings;
using Narwhal.Tests.Support;
using Narwhal.Http;

namespace Narwhal.Tests.Http;

/// <summary>
/// Every case of Gunicorn's request corpus through the head inspector (and the PROXY protocol
/// reader where the case enables it), as a client could deliver it: whole, cut in two at every
/// byte boundary, and one byte at a time. The framing must not depend on how the bytes arrive:
/// what reaches Kestrel, what is refused, and each head's record are the same for every split.
/// </summary>
public class HeadInspectorCorpusTests
{
    public static IEnumerable<object[]> Valid => Corpus.Ids("valid");
    public static IEnumerable<object[]> Invalid => Corpus.Ids("invalid");

    [Fact]
    public void CorpusIsPresent()
    {
        // Without it the theories below would silently have no cases.
        Assert.True(Valid.Count() >= 60, $"valid cases missing in {Corpus.Folder}");
        Assert.True(Invalid.Count() >= 70, $"invalid cases missing in {Corpus.Folder}");
    }

    [Theory]
    [MemberData(nameof(Valid))]
    [MemberData(nameof(Invalid))]
    public async Task SameOutcomeWhateverTheSplit(string id)
    {
        var (config, data, targets) = Case(id);
        var whole = await EdgeConnection.RunAsync(config, data, [], targets);
        for (var cut = 1; cut < data.Length; cut++)
            AssertSame(whole, await EdgeConnection.RunAsync(config, data, [cut], targets), $"cut at {cut}");
        AssertSame(whole, await EdgeConnection.RunAsync(config, data, Enumerable.Range(1, data.Length).ToArray(), targets), "byte by byte");
    }

    // The invalid cases the head inspector itself refuses (a NUL in front, which Kestrel
    // answers with 400): Kestrel would accept these, or read them differently.
    private static readonly Dictionary<string, string> RefusedByInspector = new()
    {
        ["invalid/002"] = "no target: one space, not two",
        ["invalid/003"] = "LF instead of spaces in the request line",
        ["invalid/004"] = "FTP/1.1 is not HTTP/d.d",
        ["invalid/018"] = "HTTP/111",
        ["invalid/prefix_06"] = "HTTP/1111...",
        ["invalid/version_01"] = "HTTP/0.99",
        ["invalid/014"] = "Content-Length -1",
        ["invalid/015"] = "Content-Length bla-bla-bla",
        ["invalid/022"] = "Content-Length -0 (Kestrel reads a number)",
        ["invalid/023"] = "Content-Length 0_1",
        ["invalid/024"] = "Content-Length +1 (Kestrel reads a number)",
        ["invalid/prefix_03"] = "Content-Length '0 1'",
        ["invalid/prefix_04"] = "Content-Length '3 1'",
        ["invalid/rfc9112_smuggle_cl_list_form_01"] = "Content-Length '5, 5'",
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public async Task InvalidRequestIsRefusedOrPassedOnUnchanged(string id)
    {
        var (config, data, targets) = Case(id);
        var outcome = await EdgeConnection.RunAsync(config, data, [], targets);
        if (id.StartsWith("invalid/pp_"))
        {
            // A malformed PROXY line: the PROXY reader answers Gunicorn's 400, nothing reaches Kestrel.
            Assert.StartsWith("HTTP/1.1 400 Bad Request\r\n", Encoding.Latin1.GetString(outcome.Answered));
            Assert.Empty(outcome.PassedOn);
            return;
        }
        Assert.Empty(outcome.Answered);
        if (!RefusedByInspector.ContainsKey(id))
        {
            // Kestrel's parser or RequestPolicy refuses it: the inspector must not repair it.
            Assert.Equal(EdgeConnection.Escape(data), EdgeConnection.Escape(outcome.PassedOn));
            return;
        }
        // The bytes as sent, with one NUL in front of the refused head (or its fields).
        var at = 0;
        while (at < data.Length && outcome.PassedOn[at] == data[at]) at++;
        Assert.True(outcome.PassedOn.Length == data.Length + 1 && outcome.PassedOn[at] == 0
            && outcome.PassedOn.AsSpan(at + 1).SequenceEqual(data.AsSpan(at)), outcome.Describe());
    }

    [Theory]
    [MemberData(nameof(Valid))]
    public async Task ValidRequestReachesKestrelAsGunicornReadsIt(string id)
    {
        var (config, data, targets) = Case(id);
        var outcome = await EdgeConnection.RunAsync(config, data, [], targets);
        var requests = Corpus.Load(id).GetProperty("requests").EnumerateArray().ToArray();
        Assert.Empty(outcome.Answered);

        // Each head's Connection and Content-Length values are recorded as sent.
        var expectedHeads = requests.Select(r =>
        {
            var headers = r.GetProperty("headers").EnumerateArray().Select(h => (Name: h[0].GetString()!, Value: h[1].GetString()!)).ToArray();
            var connection = headers.Where(h => h.Name == "CONNECTION").Select(h => h.Value);
            var length = headers.LastOrDefault(h => h.Name == "CONTENT-LENGTH").Value ?? "-";
            return $"{r.GetProperty("uri").GetProperty("raw").GetString()} C=[{string.Join(",", connection)}] CL={length}";
        });
        Assert.Equal(string.Join(" | ", expectedHeads), outcome.Heads);

        // What follows a PROXY header is the HTTP.
        var http = config.Get(SecuritySettings.ProxyProtocol) == "off" ? data : data[ProxyHeaderLength(data)..];
        var folds = config.Get(SecuritySettings.PermitObsoleteFolding);
        var strips = config.Get(SecuritySettings.StripHeaderSpaces);
        if (!folds && !strips)
        {
            Assert.Equal(EdgeConnection.Escape(http), EdgeConnection.Escape(outcome.PassedOn));
            return;
        }
        // Rewritten as Gunicorn parses it: folded lines joined, spaces before the colon gone.
        Assert.Single(requests);
        var text = Encoding.Latin1.GetString(outcome.PassedOn);
        var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        var fields = text[..end].Split("\r\n").Skip(1)
            .Select(l => (l[..l.IndexOf(':')].ToUpperInvariant(), l[(l.IndexOf(':') + 1)..].Trim(' ', '\t')));
        var expected = requests[0].GetProperty("headers").EnumerateArray().Select(h => (h[0].GetString()!, h[1].GetString()!));
        Assert.Equal(expected, fields);
        var sentBody = http.AsSpan(Encoding.Latin1.GetString(http).IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4);
        Assert.True(sentBody.SequenceEqual(outcome.PassedOn.AsSpan(end + 4)), "the body passes unchanged");
    }

    private static int ProxyHeaderLength(byte[] data)
    {
        var result = ProxyProtocol.TryRead(new ReadOnlySequence<byte>(data),
            ProxyProtocolMode.Auto, out var length, out _);
        return result == ProxyProtocol.Outcome.Parsed ? length : 0;
    }

    internal static (Config Config, byte[] Data, string[] Targets) Case(string id)
    {
        var doc = Corpus.Load(id);
        var targets = doc.TryGetProperty("requests", out var requests)
            ? requests.EnumerateArray().Select(r => r.GetProperty("uri").GetProperty("raw").GetString()!).ToArray()
            : [];
        return (EdgeConnection.ConfigFor(doc.GetProperty("config")), Convert.FromBase64String(doc.GetProperty("data_base64").GetString()!), targets);
    }

    private static void AssertSame(EdgeConnection.Outcome expected, EdgeConnection.Outcome actual, string how)
    {
        if (!expected.PassedOn.AsSpan().SequenceEqual(actual.PassedOn) || !expected.Answered.AsSpan().SequenceEqual(actual.Answered)
            || expected.Heads != actual.Heads || expected.Proxy != actual.Proxy)
            Assert.Fail($"{how}:\n{actual.Describe()}\nwhole:\n{expected.Describe()}");
    }
}
