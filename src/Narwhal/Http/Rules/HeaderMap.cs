namespace Narwhal.Http;

/// <summary>
/// Gunicorn's header_map: what happens to a header whose name has '_', which would share
/// an environ key with the same name spelled with '-' (X_User and X-User both become
/// HTTP_X_USER). drop: it never reaches the app (the default); refuse: the request is a
/// 400; dangerous: it is mapped anyway, values of colliding names joined with ','.
/// </summary>
internal enum HeaderMapMode { Drop, Refuse, Dangerous }

/// <summary>
/// header_map and forwarder_headers: which header names with '_' reach the app. The request
/// rules (<see cref="RequestPolicy"/>) refuse the others under "refuse"; the protocol adapter
/// (the WSGI environ) drops them under "drop".
/// </summary>
internal sealed class HeaderMap(HeaderMapMode mode, IEnumerable<string> forwarderHeaders)
{
    // forwarder_headers: names with '_' that a trusted front-end (forwarded_allow_ips) may
    // still pass (SCRIPT_NAME, PATH_INFO by default; '*' for any), whatever header_map says.
    private readonly HashSet<string> _forwarderHeaders = new(forwarderHeaders, StringComparer.OrdinalIgnoreCase);

    public HeaderMapMode Mode { get; } = mode;

    /// <summary>Whether a header named <paramref name="name"/> (with '_') reaches the app.</summary>
    public bool Passes(string name, bool fromTrustedForwarder) =>
        Mode == HeaderMapMode.Dangerous
        || fromTrustedForwarder && (_forwarderHeaders.Contains(name) || _forwarderHeaders.Contains("*"));

    /// <summary>The SCRIPT_NAME header the app takes (Gunicorn's wsgi.py), or null.</summary>
    public string? ScriptNameHeader(Microsoft.AspNetCore.Http.IHeaderDictionary headers, bool fromTrustedForwarder) =>
        headers.TryGetValue("SCRIPT_NAME", out var v) && Passes("SCRIPT_NAME", fromTrustedForwarder) ? v[^1] : null;

    public static HeaderMapMode Parse(string value) => value switch
    {
        "refuse" => HeaderMapMode.Refuse,
        "dangerous" => HeaderMapMode.Dangerous,
        _ => HeaderMapMode.Drop,
    };
}
