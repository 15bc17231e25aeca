namespace Narwhal.Settings;

/// <summary>
/// The fields of the JSON access log (--access-log-json), in the order each line has them,
/// with the access-format atom each one carries; and the check of --access-log-json-fields.
/// The schema is documented in docs/access-log-json.md; names here are a stable interface.
/// </summary>
internal static class AccessJsonFields
{
    /// <summary>Every plain field and its Gunicorn atom. Gunicorn's l (always '-') has none.</summary>
    public static readonly (string Name, string Atom)[] Plain =
    [
        ("time", "t"), ("remote_addr", "h"), ("user", "u"), ("request_line", "r"), ("method", "m"),
        ("path", "U"), ("query", "q"), ("protocol", "H"), ("status", "s"), ("bytes", "B"),
        ("referer", "f"), ("user_agent", "a"), ("duration", "L"), ("duration_s", "T"),
        ("duration_ms", "M"), ("duration_us", "D"), ("pid", "p"),
    ];

    public const string RequestHeaders = "request_headers", ResponseHeaders = "response_headers", Environ = "environ";

    /// <summary>The fields a line has when none are chosen: every plain field and both header objects.</summary>
    public static IEnumerable<string> All => Plain.Select(f => f.Name).Append(RequestHeaders).Append(ResponseHeaders);

    /// <summary>The comma-separated list, each entry checked: a field name, or a header/environ entry picked by name.</summary>
    public static List<string> Validate(string raw)
    {
        var fields = Validators.CommaList(raw);
        foreach (var f in fields)
        {
            var dot = f.IndexOf('.');
            var known = dot < 0
                ? Plain.Any(p => p.Name == f) || f is RequestHeaders or ResponseHeaders
                : f[..dot] is RequestHeaders or ResponseHeaders or Environ && dot < f.Length - 1;
            if (!known)
                throw new SettingValueException($"'{f}' is not a field (allowed: {string.Join(", ", All)}, " +
                    $"{RequestHeaders}.NAME, {ResponseHeaders}.NAME, {Environ}.KEY)");
        }
        return fields;
    }
}
