using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Primitives;

namespace Narwhal.Http;

/// <summary>
/// The field values Kestrel changes before the app sees them, as the client sent them, for
/// each HTTP/1 head of one connection (a connection feature). Kestrel changes two, with no
/// switch for either:
/// <list type="bullet">
/// <item>Connection: when its tokens come down to exactly one of keep-alive, close, upgrade,
/// HttpHeaders.ParseConnection swaps the value for its own interned "keep-alive", "close" or
/// "Upgrade" ("Close" arrives as "close", "Keep-Alive, TE" as "keep-alive"). DisableStringReuse
/// does not reach this.</item>
/// <item>Content-Length: kept as a number, it comes back formatted ("007" arrives as "7").</item>
/// </list>
/// The head inspector reads each head before Kestrel does and adds its record here; each
/// request takes the oldest one, because Kestrel serves a connection's requests in the order
/// of their heads, and a head the inspector passed on is always parsed before the next one.
/// The inspector records every head it frames, or stops for good (passthrough), so the records
/// are the first heads of the connection, one each; a record that does not name the request's
/// target means that broke, and the connection's records are no longer used: a request then
/// gets Kestrel's values rather than another request's.
/// </summary>
internal sealed class VerbatimFields
{
    private readonly ConcurrentQueue<Head> _heads = new();
    private volatile bool _broken;

    /// <summary>One head's values: the request target, every Connection field value in order, the Content-Length value.</summary>
    public sealed record Head(string Target, string[] Connection, string? ContentLength)
    {
        /// <summary>The head had neither field: Kestrel's headers are already as sent (most requests).</summary>
        public bool Verbatim => Connection.Length == 0 && ContentLength == null;

        /// <summary>Kestrel's request headers with these values in place of its own.</summary>
        public IEnumerable<KeyValuePair<string, StringValues>> Apply(IEnumerable<KeyValuePair<string, StringValues>> headers)
        {
            foreach (var pair in headers)
            {
                if (Connection.Length > 0 && pair.Key.Equals("Connection", StringComparison.OrdinalIgnoreCase))
                    yield return new(pair.Key, Connection);
                else if (ContentLength != null && pair.Key.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
                    yield return new(pair.Key, ContentLength);
                else
                    yield return pair;
            }
        }
    }

    public void Add(Head head)
    {
        if (!_broken) _heads.Enqueue(head);
    }

    /// <summary>The record of the request Kestrel has just parsed, or null to use Kestrel's values.</summary>
    public Head? Take(string rawTarget)
    {
        if (_broken || !_heads.TryDequeue(out var head)) return null;
        if (head.Target == rawTarget) return head;
        _broken = true;
        _heads.Clear();
        return null;
    }

    private static readonly string[] None = [];

    /// <summary>The record of a head: its request line and its field lines (CRLF between them, no final CRLF).</summary>
    public static Head Read(ReadOnlySpan<byte> requestLine, ReadOnlySpan<byte> fields)
    {
        var first = requestLine.IndexOf((byte)' ');
        var last = requestLine.LastIndexOf((byte)' ');
        var target = first >= 0 && last > first ? Encoding.Latin1.GetString(requestLine[(first + 1)..last]) : "";
        List<string>? connection = null;
        string? contentLength = null;
        foreach (var line in new FieldLines(fields))
        {
            var colon = line.IndexOf((byte)':');
            if (colon <= 0) continue;
            var name = line[..colon];
            // Kestrel, like Gunicorn, drops the spaces and tabs around a value.
            if (System.Text.Ascii.EqualsIgnoreCase(name, "Connection"u8))
                (connection ??= []).Add(Encoding.Latin1.GetString(line[(colon + 1)..].Trim(" \t"u8)));
            else if (System.Text.Ascii.EqualsIgnoreCase(name, "Content-Length"u8))
                contentLength = Encoding.Latin1.GetString(line[(colon + 1)..].Trim(" \t"u8));
        }
        return new Head(target, connection?.ToArray() ?? None, contentLength);
    }
}
