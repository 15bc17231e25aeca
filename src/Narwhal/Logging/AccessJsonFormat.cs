using System.Globalization;
using System.Text;
using Microsoft.Extensions.Primitives;
using Narwhal.Settings;

namespace Narwhal.Logging;

/// <summary>
/// --access-log-json: one JSON object per request, with the fields of
/// <see cref="AccessJsonFields"/> that --access-log-json-fields chose, in schema order
/// (docs/access-log-json.md). Values are what the request and response really were, typed
/// (numbers as numbers, absent as null), not the text format's '-' placeholders and quote
/// escapes; strings are escaped by <see cref="JsonText"/>.
/// </summary>
internal sealed class AccessJsonFormat : IAccessLineFormat
{
    /// <summary>Never written by the every-header form: it would put credentials in the log. Naming one writes it.</summary>
    private static readonly HashSet<string> Credentials = ["authorization", "proxy-authorization", "cookie", "set-cookie"];
    private const string Redacted = "[redacted]";

    private readonly string[] _plain;
    private readonly bool _allRequestHeaders, _allResponseHeaders;
    private readonly string[] _requestHeaders, _responseHeaders, _environ;

    public IReadOnlyList<string> EnvironKeys { get; }

    /// <param name="fields">As --access-log-json-fields lists them (checked there); empty for the default, every field.</param>
    public AccessJsonFormat(IReadOnlyList<string> fields)
    {
        var chosen = fields.Count == 0 ? AccessJsonFields.All.ToList() : fields;
        _plain = AccessJsonFields.Plain.Select(f => f.Name).Where(chosen.Contains).ToArray();
        _allRequestHeaders = chosen.Contains(AccessJsonFields.RequestHeaders);
        _allResponseHeaders = chosen.Contains(AccessJsonFields.ResponseHeaders);
        _requestHeaders = Picked(chosen, AccessJsonFields.RequestHeaders, lower: true);
        _responseHeaders = Picked(chosen, AccessJsonFields.ResponseHeaders, lower: true);
        _environ = Picked(chosen, AccessJsonFields.Environ, lower: false);
        EnvironKeys = _environ.Select(k => k.ToLowerInvariant()).Distinct().ToList();
    }

    private static string[] Picked(IReadOnlyList<string> fields, string prefix, bool lower) =>
        fields.Where(f => f.StartsWith(prefix + ".", StringComparison.Ordinal))
            .Select(f => lower ? f[(prefix.Length + 1)..].ToLowerInvariant() : f[(prefix.Length + 1)..]).Distinct().ToArray();

    public string Format(AccessRecord r)
    {
        var sb = new StringBuilder(512);
        sb.Append('{');
        foreach (var name in _plain)
        {
            Key(sb, name);
            Plain(sb, name, r);
        }
        if (_allRequestHeaders || _requestHeaders.Length > 0)
            Headers(sb, AccessJsonFields.RequestHeaders, r.RequestHeaders, _allRequestHeaders, _requestHeaders);
        if (_allResponseHeaders || _responseHeaders.Length > 0)
            Headers(sb, AccessJsonFields.ResponseHeaders, r.ResponseHeaders, _allResponseHeaders, _responseHeaders);
        if (_environ.Length > 0)
        {
            Key(sb, AccessJsonFields.Environ);
            sb.Append('{');
            for (var i = 0; i < _environ.Length; i++)
            {
                if (i > 0) sb.Append(',');
                JsonText.AppendString(sb, _environ[i]);
                sb.Append(':');
                JsonText.AppendString(sb, r.Environ?.GetValueOrDefault(_environ[i].ToLowerInvariant()));
            }
            sb.Append('}');
        }
        sb.Append('}');
        return sb.ToString();
    }

    private static void Key(StringBuilder sb, string name)
    {
        if (sb.Length > 1) sb.Append(',');
        sb.Append('"').Append(name).Append("\":");
    }

    private static void Plain(StringBuilder sb, string name, AccessRecord r)
    {
        var d = r.Duration;
        switch (name)
        {
            case "time": JsonText.AppendString(sb, DateTimeOffset.Now.ToString("yyyy-MM-dd'T'HH:mm:ss.fffzzz", CultureInfo.InvariantCulture)); break;
            case "remote_addr": JsonText.AppendString(sb, r.RemoteAddr); break;
            case "user": JsonText.AppendString(sb, r.User()); break;
            case "request_line": JsonText.AppendString(sb, $"{r.Method} {r.RawUri} {r.Protocol}"); break;
            case "method": JsonText.AppendString(sb, r.Method); break;
            case "path": JsonText.AppendString(sb, r.PathInfo()); break;
            case "query": JsonText.AppendString(sb, r.Query()); break;
            case "protocol": JsonText.AppendString(sb, r.Protocol); break;
            case "status": sb.Append(r.Status); break;
            case "bytes": sb.Append(r.Sent); break;
            case "referer": JsonText.AppendString(sb, AccessRecord.Header(r.RequestHeaders, "referer")); break;
            case "user_agent": JsonText.AppendString(sb, AccessRecord.Header(r.RequestHeaders, "user-agent")); break;
            case "duration":
                sb.Append((long)d.TotalSeconds).Append('.').Append((d.Ticks / 10 % 1_000_000).ToString("D6", CultureInfo.InvariantCulture));
                break;
            case "duration_s": sb.Append((long)d.TotalSeconds); break;
            case "duration_ms": sb.Append((long)d.TotalMilliseconds); break;
            case "duration_us": sb.Append(d.Ticks / 10); break;
            case "pid": sb.Append(Environment.ProcessId); break;
        }
    }

    /// <summary>
    /// Names lowercased; a field sent more than once is one value, joined with ", " in the order
    /// received (RFC 9110's combination). Named ones come in the order given, null when absent.
    /// </summary>
    private static void Headers(StringBuilder sb, string field, IEnumerable<KeyValuePair<string, StringValues>> headers,
        bool all, string[] named)
    {
        var values = new List<(string Name, string Value)>();
        foreach (var (key, value) in headers)
        {
            var name = key.ToLowerInvariant();
            var text = string.Join(", ", value.ToArray());
            var at = values.FindIndex(v => v.Name == name);
            if (at < 0) values.Add((name, text));
            else values[at] = (name, values[at].Value + ", " + text);
        }
        Key(sb, field);
        sb.Append('{');
        var first = true;
        if (all)
        {
            foreach (var (name, value) in values)
            {
                Entry(sb, ref first, name, Credentials.Contains(name) && !named.Contains(name) ? Redacted : value);
            }
        }
        foreach (var name in named)
        {
            if (all && values.Any(v => v.Name == name)) continue;
            var at = values.FindIndex(v => v.Name == name);
            Entry(sb, ref first, name, at < 0 ? null : values[at].Value);
        }
        sb.Append('}');
    }

    private static void Entry(StringBuilder sb, ref bool first, string name, string? value)
    {
        if (!first) sb.Append(',');
        first = false;
        JsonText.AppendString(sb, name);
        sb.Append(':');
        JsonText.AppendString(sb, value);
    }
}
