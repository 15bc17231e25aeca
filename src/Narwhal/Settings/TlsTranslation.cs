using Narwhal.Python;

namespace Narwhal.Settings;

/// <summary>
/// Gunicorn's TLS settings read by the user's Python ssl module (narwhal_tls.py), for .NET's
/// TLS: what an OpenSSL cipher string selects, and what the ssl_context hook's context says.
/// Lives here, beside the settings, while the TLS setup moves (it will sit next to it).
/// </summary>
internal static class TlsTranslation
{
    private static readonly EmbeddedModule Module = new("narwhal_tls.py", "narwhal_tls");

    /// <summary>
    /// The TLS cipher suites (IANA numbers) an OpenSSL cipher string selects: Gunicorn's
    /// --ciphers, for .NET's CipherSuitesPolicy. Throws <see cref="PythonException"/> for a
    /// string that selects nothing. From any thread; Python must be running.
    /// </summary>
    public static List<int> CipherSuites(string spec)
    {
        using var gil = Gil.Take();
        using var arg = Interop.Str(spec);
        using var result = Module.Call("cipher_suites", arg);
        var text = Interop.AsString(result) ?? "";
        return text.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToList();
    }

    /// <summary>
    /// The ssl_context hook's context read back as JSON, or null without the hook (or without
    /// a config file). Throws <see cref="PythonException"/> when the context cannot be served.
    /// </summary>
    public static string? FromHook()
    {
        var glue = ConfigFile.Glue;
        if (glue.IsNull) return null;
        using var gil = Gil.Take();
        using var name = Interop.Str("ssl_context");
        using var findHook = Interop.GetAttr(glue, "hook");
        using var hook = Interop.Call(findHook, name);
        if (Interop.IsNone(hook)) return null;
        using var cfg = Interop.GetAttr(glue, "_cfg");
        using var result = Module.Call("from_hook", hook, cfg);
        return Interop.AsString(result);
    }
}
