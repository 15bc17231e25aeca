using System.IO.Pipelines;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Connections;
using Narwhal.Http;
using Narwhal.Settings;

namespace Narwhal.Tests.Support;

/// <summary>
/// One client connection through the connection middlewares that stand in front of Kestrel's
/// HTTP/1 parser, wired as KestrelHost wires them (PROXY protocol when enabled, then the head
/// inspector), over in-memory pipes. What Kestrel would have read is collected in its place.
/// </summary>
internal static class EdgeConnection
{
    /// <summary>
    /// What came out: the bytes passed on to Kestrel, the bytes answered to the client (a
    /// refusal made before Kestrel), the heads' verbatim records and the PROXY header.
    /// </summary>
    public sealed record Outcome(byte[] PassedOn, byte[] Answered, string Heads, string? Proxy)
    {
        public string Describe() =>
            $"passed on: {Escape(PassedOn)}\nanswered: {Escape(Answered)}\nheads: {Heads}\nproxy: {Proxy}";
    }

    /// <summary>A configuration with the settings a corpus case names ({name: value}, Gunicorn's names).</summary>
    public static Config ConfigFor(JsonElement settings)
    {
        var layer = new SettingsLayer();
        foreach (var p in settings.EnumerateObject())
        {
            var setting = SettingsRegistry.Find(p.Name) ?? throw new InvalidOperationException($"no setting {p.Name}");
            var raw = p.Value.ValueKind switch
            {
                JsonValueKind.True => "true",
                JsonValueKind.False => "false",
                JsonValueKind.Array => string.Join(",", p.Value.EnumerateArray().Select(v => v.GetString())),
                JsonValueKind.String => p.Value.GetString()!,
                _ => p.Value.GetRawText(),
            };
            layer.Parse(setting, raw);
        }
        var config = new Config();
        config.Apply(layer);
        return config;
    }

    /// <summary>
    /// Sends <paramref name="data"/> in the pieces that <paramref name="cuts"/> (ascending
    /// offsets) make, then ends the stream; <paramref name="targets"/> are the request
    /// targets whose verbatim records are read back, in order.
    /// </summary>
    public static async Task<Outcome> RunAsync(Config config, byte[] data, IReadOnlyList<int> cuts, IReadOnlyList<string> targets)
    {
        var edge = EdgeOptions.From(config);
        var rules = RequestRules.From(config);
        byte[] passedOn = [];
        var heads = "";
        string? proxy = null;

        ConnectionDelegate kestrel = async context =>
        {
            var collected = new MemoryStream();
            var input = context.Transport.Input;
            while (true)
            {
                var read = await input.ReadAsync();
                foreach (var segment in read.Buffer) collected.Write(segment.Span);
                input.AdvanceTo(read.Buffer.End);
                if (read.IsCompleted || read.IsCanceled) break;
            }
            passedOn = collected.ToArray();
            var verbatim = context.Features.Get<VerbatimFields>();
            heads = string.Join(" | ", targets.Select(t => verbatim?.Take(t) is { } h
                ? $"{h.Target} C=[{string.Join(",", h.Connection)}] CL={h.ContentLength ?? "-"}" : "none"));
            proxy = context.Features.Get<ProxyProtocolHeader>()?.ToString();
        };
        var inspector = new HeadInspector(kestrel, rules);
        ConnectionDelegate connection = inspector.OnConnectionAsync;
        if (edge.ProxyProtocol != ProxyProtocolMode.Off)
            connection = new ProxyProtocolConnection(connection, edge.ProxyProtocol, edge.ProxyAllowFrom, TimeSpan.FromSeconds(30)).OnConnectionAsync;

        // Large enough that the whole request fits one read: "whole" is then one piece.
        var reader = PipeReader.Create(new ChunkedStream(data, cuts),
            new StreamPipeReaderOptions(bufferSize: data.Length + 4096, minimumReadSize: 1));
        var answers = new Pipe();
        var context = new DefaultConnectionContext("test", new DuplexPipe(reader, answers.Writer), new DuplexPipe(answers.Reader, answers.Writer))
        {
            RemoteEndPoint = new IPEndPoint(IPAddress.Loopback, 50000),
            LocalEndPoint = new IPEndPoint(IPAddress.Loopback, 8000),
        };
        await connection(context);
        await answers.Writer.CompleteAsync();
        var answered = new MemoryStream();
        while (true)
        {
            var read = await answers.Reader.ReadAsync();
            foreach (var segment in read.Buffer) answered.Write(segment.Span);
            answers.Reader.AdvanceTo(read.Buffer.End);
            if (read.IsCompleted) break;
        }
        return new Outcome(passedOn, answered.ToArray(), heads, proxy);
    }

    public static string Escape(byte[] bytes)
    {
        var sb = new StringBuilder();
        foreach (var b in bytes)
            sb.Append(b switch
            {
                (byte)'\r' => "\\r",
                (byte)'\n' => "\\n",
                (byte)'\\' => "\\\\",
                >= 0x20 and < 0x7F => ((char)b).ToString(),
                _ => $"\\x{b:x2}",
            });
        return sb.ToString();
    }
}
