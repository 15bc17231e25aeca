namespace Narwhal.Http;

/// <summary>
/// Gunicorn's header_map: what happens to a header whose name has '_', which would share
/// an environ key with the same name spelled with '-' (X_User and X-User both become
/// HTTP_X_USER). drop: it never reaches the app (the default); refuse: the request is a
/// 400; dangerous: it is mapped anyway, values of colliding names joined with ','.
/// </summary>
internal enum HeaderMapMode { Drop, Refuse, Dangerous }

internal static class HeaderMap
{
    /// <summary>This worker's mode (set once at start-up).</summary>
    public static HeaderMapMode Mode { get; set; } = HeaderMapMode.Drop;

    /// <summary>
    /// forwarder_headers: names with '_' that a trusted front-end (forwarded_allow_ips) may
    /// still pass (SCRIPT_NAME, PATH_INFO by default; '*' for any), whatever header_map says.
    /// </summary>
    public static HashSet<string> ForwarderHeaders { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Whether a header named <paramref name="name"/> (with '_') reaches the environ.</summary>
    public static bool Passes(string name, bool fromTrustedForwarder) =>
        Mode == HeaderMapMode.Dangerous
        || fromTrustedForwarder && (ForwarderHeaders.Contains(name) || ForwarderHeaders.Contains("*"));

    /// <summary>The SCRIPT_NAME header the environ takes (Gunicorn's wsgi.py), or null.</summary>
    public static string? ScriptNameHeader(Microsoft.AspNetCore.Http.IHeaderDictionary headers, bool fromTrustedForwarder) =>
        headers.TryGetValue("SCRIPT_NAME", out var v) && Passes("SCRIPT_NAME", fromTrustedForwarder) ? v[^1] : null;

    public static HeaderMapMode Parse(string value) => value switch
    {
        "refuse" => HeaderMapMode.Refuse,
        "dangerous" => HeaderMapMode.Dangerous,
        _ => HeaderMapMode.Drop,
    };
}
