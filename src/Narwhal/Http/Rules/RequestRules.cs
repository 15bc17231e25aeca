using Narwhal.Settings;

namespace Narwhal.Http;

/// <summary>
/// This worker's request rules, read from the settings once (<see cref="From"/>) and handed to
/// what applies them: the head inspector, Kestrel's limits, the request check before a request
/// is queued, the exchange (scheme, method) and the protocol adapter (header_map). Immutable,
/// so a reload builds a new worker with new rules rather than changing them under a request.
/// <para>Where each rule is held, one file each:</para>
/// <list type="bullet">
/// <item>request-line shape, Content-Length digits only, permit_obsolete_folding and
/// strip_header_spaces: <see cref="Http1Framer"/> (Http/Rules/Http1Framer.cs), applied to
/// every HTTP/1 head by the head inspector before Kestrel parses it;</item>
/// <item>methods (permit_unconventional_http_method), controls in the target, limit_request_line,
/// field names and values, limit_request_field_size, Content-Length beside Transfer-Encoding,
/// chunked on HTTP/1.0, a repeated Content-Type, header_map=refuse, SCRIPT_NAME's prefix, and
/// the fields chunked trailers must not carry: <see cref="RequestPolicy"/>
/// (Http/Rules/RequestPolicy.cs);</item>
/// <item>the limits' normalization and limit_request_fields (Kestrel counts the fields):
/// <see cref="RequestLimits"/> (Http/Rules/RequestLimits.cs);</item>
/// <item>forwarded_allow_ips and secure_scheme_headers (the scheme, and two disagreeing
/// headers): <see cref="ProxyTrust"/> (Http/Rules/ProxyTrust.cs);</item>
/// <item>header_map and forwarder_headers: <see cref="HeaderMap"/> (Http/Rules/HeaderMap.cs);</item>
/// <item>casefold_http_method: <see cref="CasefoldMethod"/> here.</item>
/// </list>
/// Bare LF line ends are refused by Kestrel itself, switched on in Worker/KestrelHost.cs.
/// </summary>
internal sealed record RequestRules
{
    public required RequestLimits Limits { get; init; }

    /// <summary>forwarded_allow_ips with secure_scheme_headers: who may say the request's scheme, and how.</summary>
    public required ProxyTrust Forwarded { get; init; }

    public required HeaderMap HeaderMap { get; init; }

    /// <summary>permit_unconventional_http_method: any token is a method, not only Gunicorn's convention.</summary>
    public bool PermitUnconventionalMethod { get; init; }

    /// <summary>casefold_http_method: the method reaches the app and the log upper-cased.</summary>
    public bool CasefoldMethod { get; init; }

    /// <summary>permit_obsolete_folding: a folded field line is joined to the one before it.</summary>
    public bool PermitObsoleteFolding { get; init; }

    /// <summary>strip_header_spaces: spaces between a field name and its colon are removed.</summary>
    public bool StripHeaderSpaces { get; init; }

    /// <summary>Head inspection rewrites heads (a Gunicorn leniency is on).</summary>
    public bool Lenient => PermitObsoleteFolding || StripHeaderSpaces;

    /// <summary>The longest head the head inspector waits for before handing it to Kestrel to refuse.</summary>
    public int MaxHead => RequestLimits.KestrelRequestLine + Limits.HeadersTotal;

    /// <summary>The rules the settings say; the one place they are read.</summary>
    public static RequestRules From(Config config) => new()
    {
        Limits = RequestLimits.Normalize(
            config.Get(SecuritySettings.LimitRequestLine),
            config.Get(SecuritySettings.LimitRequestFields),
            config.Get(SecuritySettings.LimitRequestFieldSize)),
        Forwarded = new ProxyTrust(config.Get(SecuritySettings.ForwardedAllowIps), config.Get(SecuritySettings.SecureSchemeHeaders)),
        HeaderMap = new HeaderMap(HeaderMap.Parse(config.Get(SecuritySettings.HeaderMap)), config.Get(SecuritySettings.ForwarderHeaders)),
        PermitUnconventionalMethod = config.Get(SecuritySettings.PermitUnconventionalHttpMethod),
        CasefoldMethod = config.Get(SecuritySettings.CasefoldHttpMethod),
        PermitObsoleteFolding = config.Get(SecuritySettings.PermitObsoleteFolding),
        StripHeaderSpaces = config.Get(SecuritySettings.StripHeaderSpaces),
    };
}
