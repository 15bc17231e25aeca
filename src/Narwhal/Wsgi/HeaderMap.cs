namespace Narwhal.Wsgi;

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

    public static HeaderMapMode Parse(string value) => value switch
    {
        "refuse" => HeaderMapMode.Refuse,
        "dangerous" => HeaderMapMode.Dangerous,
        _ => HeaderMapMode.Drop,
    };
}
