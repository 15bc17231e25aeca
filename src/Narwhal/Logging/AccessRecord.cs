using System.Globalization;
using System.Text;
using Microsoft.Extensions.Primitives;
using Narwhal.Syntax;

namespace Narwhal.Logging;

/// <summary>
/// What the access log knows about one answered request, with Gunicorn's atoms computed on
/// demand. String atoms have '"' escaped as Gunicorn's SafeAtoms does; an unknown atom is '-'.
/// </summary>
internal sealed class AccessRecord
{
    public required string RemoteAddr { get; init; }
    public required string Method { get; init; }
    public required string RawUri { get; init; }
    public required string Protocol { get; init; }
    public required int Status { get; init; }
    /// <summary>Body bytes sent (Gunicorn's resp.sent).</summary>
    public required long Sent { get; init; }
    public required TimeSpan Duration { get; init; }
    public required IEnumerable<KeyValuePair<string, StringValues>> RequestHeaders { get; init; }
    public required IEnumerable<KeyValuePair<string, StringValues>> ResponseHeaders { get; init; }
    /// <summary>Values of <c>{key}e</c> atoms read from the request's WSGI environ, by lowercased key.</summary>
    public IReadOnlyDictionary<string, string>? Environ { get; init; }

    /// <summary>
    /// The app raised before answering and the server sent its 500. Gunicorn logs that line
    /// from a bare environ (no PATH_INFO, no HTTP_* keys), so U is None and f, a, u are '-';
    /// kept, so the line reads the same as Gunicorn's.
    /// </summary>
    public bool ServerError { get; init; }

    public object? Atom(string name)
    {
        switch (name)
        {
            case "h": return Safe(RemoteAddr);
            case "l": return "-";
            case "u": return ServerError ? "-" : Safe(User() ?? "-");
            case "t": return AccessLog.Now();
            case "r": return Safe($"{Method} {RawUri} {Protocol}");
            case "s": return Status.ToString(CultureInfo.InvariantCulture);
            case "m": return Safe(Method);
            case "U": return ServerError ? null : Safe(PathInfo());
            case "q": return Safe(Query());
            case "H": return Safe(Protocol);
            case "b": return Sent.ToString(CultureInfo.InvariantCulture);
            case "B": return Sent;
            case "f": return ServerError ? "-" : Safe(Header(RequestHeaders, "referer") ?? "-");
            case "a": return ServerError ? "-" : Safe(Header(RequestHeaders, "user-agent") ?? "-");
            case "T": return (long)Duration.TotalSeconds;
            case "D": return Duration.Ticks / 10;
            case "M": return (long)Duration.TotalMilliseconds;
            case "L": return ((long)Duration.TotalSeconds).ToString(CultureInfo.InvariantCulture) + "." + (Duration.Ticks / 10 % 1_000_000).ToString("D6", CultureInfo.InvariantCulture);
            case "p": return $"<{Environment.ProcessId}>";
        }
        if (name.Length > 3 && name[0] == '{' && name[^2] == '}')
        {
            var key = name[1..^2];
            var found = name[^1] switch
            {
                'i' => Header(RequestHeaders, key),
                'o' => Header(ResponseHeaders, key),
                'e' => ServerError ? BareEnviron(key.ToLowerInvariant()) : Environ?.GetValueOrDefault(key.ToLowerInvariant()),
                _ => null,
            };
            return found is null ? "-" : Safe(found);
        }
        return "-";
    }

    /// <summary>The keys of the bare environ Gunicorn logs a server-made 500 with.</summary>
    private string? BareEnviron(string key) => key switch
    {
        "request_method" => Method,
        "query_string" => Query(),
        "raw_uri" => RawUri,
        "server_protocol" => Protocol,
        "remote_addr" => RemoteAddr,
        _ => null,
    };

    private static string Safe(string s) => s.Contains('"') ? s.Replace("\"", "\\\"") : s;

    internal static string? Header(IEnumerable<KeyValuePair<string, StringValues>> headers, string name)
    {
        // Gunicorn keeps the last of repeated headers in the atoms dict.
        string? found = null;
        foreach (var (key, values) in headers)
            if (key.Equals(name, StringComparison.OrdinalIgnoreCase)) found = values.Count > 0 ? values[values.Count - 1] : "";
        return found;
    }

    /// <summary>PATH_INFO as the environ has it: the target's path, percent-decoded to latin-1 (PEP 3333).</summary>
    internal string PathInfo()
    {
        var path = RequestTarget.Split(RawUri).Path;
        var bytes = new byte[path.Length];
        return Encoding.Latin1.GetString(bytes, 0, RequestTarget.PercentDecode(path, bytes));
    }

    internal string Query() => RequestTarget.Split(RawUri).Query;

    /// <summary>The user of HTTP basic authentication, as Gunicorn's atom 'u' reads it.</summary>
    internal string? User()
    {
        var auth = Header(RequestHeaders, "authorization");
        if (auth is null || !auth.StartsWith("basic", StringComparison.OrdinalIgnoreCase)) return null;
        var parts = auth.Split(' ', 2);
        if (parts.Length != 2) return null;
        try
        {
            var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(parts[1].Trim()));
            var colon = decoded.IndexOf(':');
            return colon < 0 ? null : decoded[..colon];
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
