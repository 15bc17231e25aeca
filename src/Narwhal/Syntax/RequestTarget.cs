namespace Narwhal.Syntax;

/// <summary>Splits a request-target into the path and query WSGI wants, as Gunicorn does with urlsplit.</summary>
internal static class RequestTarget
{
    /// <summary>The still percent-encoded path and the raw query of a request-target (fragment dropped).</summary>
    public static (string Path, string Query) Split(string raw)
    {
        var path = raw;
        if (!raw.StartsWith('/') && raw != "*")
        {
            // absolute-form (http://host/path?q): the path starts after the authority.
            var scheme = raw.IndexOf("://", StringComparison.Ordinal);
            if (scheme > 0)
            {
                var start = scheme + 3;
                var end = raw.IndexOfAny(['/', '?', '#'], start);
                path = end < 0 ? "" : raw[end..];
            }
            else
            {
                path = ""; // authority-form (CONNECT host:port) has no path
            }
        }
        var hash = path.IndexOf('#');
        if (hash >= 0) path = path[..hash];
        var q = path.IndexOf('?');
        return q < 0 ? (path, "") : (path[..q], path[(q + 1)..]);
    }

    /// <summary>
    /// Percent-decodes to bytes, as urllib's unquote_to_bytes: malformed escapes stay as
    /// they are. PEP 3333 wants those bytes as a latin-1 str, never UTF-8 decoded.
    /// </summary>
    public static int PercentDecode(ReadOnlySpan<char> encoded, Span<byte> output)
    {
        var n = 0;
        for (var i = 0; i < encoded.Length; i++)
        {
            var c = encoded[i];
            if (c == '%' && i + 2 < encoded.Length && IsHex(encoded[i + 1]) && IsHex(encoded[i + 2]))
            {
                output[n++] = (byte)(Hex(encoded[i + 1]) << 4 | Hex(encoded[i + 2]));
                i += 2;
            }
            else
            {
                output[n++] = (byte)c;
            }
        }
        return n;
    }

    private static bool IsHex(char c) => char.IsAsciiHexDigit(c);

    private static int Hex(char c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}
