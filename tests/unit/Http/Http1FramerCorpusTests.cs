using System.Buffers;
using Narwhal.Http;
using Narwhal.Settings;
using Narwhal.Tests.Support;

namespace Narwhal.Tests.Http;

/// <summary>
/// The HTTP/1 framer alone, without pipes or a connection: every case of Gunicorn's request
/// corpus fed whole, cut in two at every byte boundary, and one byte at a time, each new piece
/// a segment of its own after what the framer kept. What it passes on and the heads it reports
/// must be the same for every split, and the same as the head inspector hands Kestrel.
/// </summary>
public class Http1FramerCorpusTests
{
    public static IEnumerable<object[]> Cases => Corpus.Ids("valid").Concat(Corpus.Ids("invalid"))
        // A malformed PROXY line is answered by the PROXY reader: no byte reaches the framer.
        .Where(c => !((string)c[0]).StartsWith("invalid/pp_", StringComparison.Ordinal));

    [Fact]
    public void CorpusIsPresent() => Assert.True(Cases.Count() >= 120, $"corpus cases missing in {Corpus.Folder}");

    [Theory]
    [MemberData(nameof(Cases))]
    public void SameOutcomeWhateverTheSplit(string id)
    {
        var (rules, http) = Case(id);
        var whole = Frame(rules, http, []);
        for (var cut = 1; cut < http.Length; cut++)
            AssertSame(whole, Frame(rules, http, [cut]), $"cut at {cut}");
        AssertSame(whole, Frame(rules, http, Enumerable.Range(1, http.Length).ToArray()), "byte by byte");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task SameAsTheHeadInspectorPassesOn(string id)
    {
        var (config, data, targets) = HeadInspectorCorpusTests.Case(id);
        var (rules, http) = Case(id);
        var inspected = await EdgeConnection.RunAsync(config, data, [], targets);
        Assert.Equal(EdgeConnection.Escape(inspected.PassedOn), EdgeConnection.Escape(Frame(rules, http, []).PassedOn));
    }

    [Fact]
    public void KeepsAnUnfinishedHeadAndPassesItOnWhenWhole()
    {
        var framer = new Http1Framer(RequestRules.From(new Config()));
        var output = new ArrayBufferWriter<byte>();
        var first = new ReadOnlySequence<byte>("GET / HT"u8.ToArray());
        Assert.Equal(first.Start, framer.Process(first, completed: false, output));
        Assert.Equal(0, output.WrittenCount);
        var whole = new ReadOnlySequence<byte>("GET / HTTP/1.1\r\nHost: a\r\n\r\n"u8.ToArray());
        Assert.Equal(whole.End, framer.Process(whole, completed: false, output));
        Assert.Equal("GET / HTTP/1.1\r\nHost: a\r\n\r\n"u8.ToArray(), output.WrittenSpan.ToArray());
    }

    [Theory]
    [InlineData("GET /x HTTP/1.1\r\n\r\n", -1, "/x C=[] CL=-")]
    [InlineData("GET /xHTTP/1.0\r\n\r\n", 0, "")] // no space before the version
    [InlineData("GET /x  HTTP/1.1\r\n\r\n", 0, "")] // two spaces
    [InlineData("POST /x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", -1, "/x C=[] CL=3")]
    [InlineData("POST /x HTTP/1.1\r\nContent-Length: +3\r\n\r\nabc", 18, "")] // signed: the NUL goes before the fields
    public void RefusedHeadGetsANulInFrontAndNoRecord(string request, int nulAt, string heads)
    {
        var sent = System.Text.Encoding.Latin1.GetBytes(request);
        var outcome = Frame(RequestRules.From(new Config()), sent, []);
        Assert.Equal(nulAt, Array.IndexOf(outcome.PassedOn, (byte)0));
        Assert.Equal(sent, outcome.PassedOn.Where(b => b != 0).ToArray());
        Assert.Equal(heads, outcome.Heads);
    }

    internal sealed record Outcome(byte[] PassedOn, string Heads);

    /// <summary>
    /// Feeds the pieces <paramref name="cuts"/> make (ascending offsets) as a pipe would: each
    /// call sees what the framer kept, then the new piece as its own segment; then the end.
    /// </summary>
    internal static Outcome Frame(RequestRules rules, byte[] data, IReadOnlyList<int> cuts)
    {
        var heads = new List<string>();
        var framer = new Http1Framer(rules, h => heads.Add($"{h.Target} C=[{string.Join(",", h.Connection)}] CL={h.ContentLength ?? "-"}"));
        var output = new ArrayBufferWriter<byte>();
        var kept = new List<byte[]>();
        var at = 0;
        foreach (var end in cuts.Append(data.Length))
        {
            if (end <= at) continue;
            kept.Add(data[at..end]);
            at = end;
            kept = Feed(framer, kept, completed: false, output);
        }
        Feed(framer, kept, completed: true, output);
        return new Outcome(output.WrittenSpan.ToArray(), string.Join(" | ", heads));
    }

    private static List<byte[]> Feed(Http1Framer framer, List<byte[]> segments, bool completed, ArrayBufferWriter<byte> output)
    {
        var buffer = Segments.Of(segments);
        var consumed = framer.Process(buffer, completed, output);
        var rest = buffer.Slice(consumed);
        return rest.IsEmpty ? [] : [rest.ToArray()];
    }

    /// <summary>The case's rules, and the bytes that reach the framer (after any PROXY header).</summary>
    private static (RequestRules Rules, byte[] Http) Case(string id)
    {
        var (config, data, _) = HeadInspectorCorpusTests.Case(id);
        var skip = 0;
        if (config.Get(SecuritySettings.ProxyProtocol) != "off"
            && ProxyProtocol.TryRead(new ReadOnlySequence<byte>(data), ProxyProtocolMode.Auto, out var length, out _) == ProxyProtocol.Outcome.Parsed)
            skip = length;
        return (RequestRules.From(config), data[skip..]);
    }

    private static void AssertSame(Outcome expected, Outcome actual, string how)
    {
        if (!expected.PassedOn.AsSpan().SequenceEqual(actual.PassedOn) || expected.Heads != actual.Heads)
            Assert.Fail($"{how}:\npassed on: {EdgeConnection.Escape(actual.PassedOn)}\nheads: {actual.Heads}\n" +
                $"whole:\npassed on: {EdgeConnection.Escape(expected.PassedOn)}\nheads: {expected.Heads}");
    }
}
