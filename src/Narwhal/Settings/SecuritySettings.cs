namespace Narwhal.Settings;

/// <summary>
/// Request limits, header handling and proxy trust: Gunicorn's Security section and the
/// HTTP-parsing part of Server Mechanics. Limits and proxy trust are honoured; for the
/// header-handling flags, forwarder_headers and the PROXY protocol Narwhal applies
/// Gunicorn's defaults and refuses other values until the HTTP front can honour them exactly.
/// </summary>
internal static class SecuritySettings
{
    private const string NotYet = "Narwhal applies Gunicorn's default for this setting and cannot honour another value yet";

    private static Setting<int> Limit(string name, string flag, int def, string desc) => SettingsRegistry.Add(new Setting<int>
    {
        Name = name, Section = Sections.Security, Cli = [flag], Meta = "INT",
        Default = () => def, Validate = Validators.NonNegativeInt, Desc = desc,
    });

    private static Setting<bool> Flag(string name, string desc) => SettingsRegistry.Add(new Setting<bool>
    {
        Name = name, Section = Sections.ServerMechanics, Cli = ["--" + name.Replace('_', '-')], Action = CliAction.StoreTrue,
        Default = () => false, Validate = Validators.Bool, Honour = v => v ? NotYet : null, Desc = desc,
    });

    public static readonly Setting<int> LimitRequestLine = Limit("limit_request_line", "--limit-request-line", 4094,
        "The maximum size of the HTTP request line in bytes, up to 8190; 0 for unlimited. Longer is a 400.");

    public static readonly Setting<int> LimitRequestFields = Limit("limit_request_fields", "--limit-request-fields", 100,
        "The maximum number of header fields in a request, up to 32768 (0: 32768). More is a 431.");

    public static readonly Setting<int> LimitRequestFieldSize = Limit("limit_request_field_size", "--limit-request-field_size", 8190,
        "The maximum size of one request header field in bytes (0: the 8190 default). Larger is a 431.");

    public static readonly Setting<Dictionary<string, string>> SecureSchemeHeaders = SettingsRegistry.Add(new Setting<Dictionary<string, string>>
    {
        Name = "secure_scheme_headers", Section = Sections.ServerMechanics,
        Default = () => new() { ["X-FORWARDED-PROTOCOL"] = "ssl", ["X-FORWARDED-PROTO"] = "https", ["X-FORWARDED-SSL"] = "on" },
        Validate = Validators.StringDict,
        Desc = "Headers, with their values, by which a front-end proxy from forwarded_allow_ips says a request came over HTTPS " +
               "(wsgi.url_scheme https). Two of them that disagree make the request a 400.",
    });

    public static readonly Setting<List<string>> ForwardedAllowIps = SettingsRegistry.Add(new Setting<List<string>>
    {
        Name = "forwarded_allow_ips", Section = Sections.ServerMechanics, Cli = ["--forwarded-allow-ips"], Meta = "STRING",
        Default = () => Validators.CommaList(Environment.GetEnvironmentVariable("FORWARDED_ALLOW_IPS") ?? "127.0.0.1,::1"),
        DefaultDoc = "['127.0.0.1', '::1'] ($FORWARDED_ALLOW_IPS when set)",
        Validate = raw => { var list = Validators.CommaList(raw); _ = new Worker.ProxyTrust(list, new Dictionary<string, string>()); return list; },
        Desc = "Front-end addresses trusted to set secure_scheme_headers and forwarder_headers: comma-separated IPs, CIDR networks, or '*'. A unix socket peer is always trusted.",
    });

    public static readonly Setting<string> ProxyProtocol = SettingsRegistry.Add(new Setting<string>
    {
        Name = "proxy_protocol", Section = Sections.ServerMechanics, Cli = ["--proxy-protocol"], Meta = "MODE",
        Action = CliAction.OptionalValue, Const = "auto", Choices = ["off", "v1", "v2", "auto"],
        Default = () => "off", EmptyIsNone = false,
        // Gunicorn before 24.1 took a boolean: True meant detect, False off.
        Validate = raw => raw.Trim().ToLowerInvariant() switch
        {
            "true" => "auto",
            "false" => "off",
            var mode => Validators.OneOf(mode, "off", "v1", "v2", "auto"),
        },
        Honour = v => v == "off" ? null : NotYet,
        Desc = "Accept the PROXY protocol from proxy_allow_ips in front of each connection: off, v1, v2 or auto (a bare --proxy-protocol).",
    });

    public static readonly Setting<List<string>> ProxyAllowIps = SettingsRegistry.Add(new Setting<List<string>>
    {
        Name = "proxy_allow_ips", Section = Sections.ServerMechanics, Cli = ["--proxy-allow-from"],
        Default = () => ["127.0.0.1", "::1"], Validate = Validators.CommaList,
        Desc = "Front-end addresses (comma-separated, '*' for any) allowed to send the PROXY protocol. Only matters with proxy_protocol.",
    });

    public static readonly Setting<bool> PermitObsoleteFolding = Flag("permit_obsolete_folding",
        "Accept requests whose headers use obsolete line folding.");

    public static readonly Setting<bool> StripHeaderSpaces = Flag("strip_header_spaces",
        "Strip spaces between a header name and the ':' (known to enable request smuggling).");

    public static readonly Setting<bool> PermitUnconventionalHttpMethod = Flag("permit_unconventional_http_method",
        "Accept request methods that do not follow convention (lowercase, under 3 or over 20 characters, '#').");

    public static readonly Setting<bool> PermitUnconventionalHttpVersion = Flag("permit_unconventional_http_version",
        "Accept HTTP/1 versions other than 1.0 and 1.1.");

    public static readonly Setting<bool> CasefoldHttpMethod = Flag("casefold_http_method",
        "Uppercase the request method before passing it on.");

    public static readonly Setting<List<string>> ForwarderHeaders = SettingsRegistry.Add(new Setting<List<string>>
    {
        Name = "forwarder_headers", Section = Sections.ServerMechanics, Cli = ["--forwarder-headers"],
        Default = () => ["SCRIPT_NAME", "PATH_INFO"], Validate = Validators.CommaList,
        // Narwhal maps none of them yet: exactly what an empty list means.
        Honour = v => v.Count == 0 || v.SequenceEqual(["SCRIPT_NAME", "PATH_INFO"]) ? null : NotYet,
        Desc = "Upper-case header names that a front-end from forwarded_allow_ips may set into the environ.",
        Narwhal = "Not applied yet: headers with '_' are dropped even from a trusted front-end, as an empty list would do.",
    });

    public static readonly Setting<string> HeaderMap = SettingsRegistry.Add(new Setting<string>
    {
        Name = "header_map", Section = Sections.ServerMechanics, Cli = ["--header-map"],
        Default = () => "drop", Validate = raw => Validators.OneOfIgnoreCase(raw, "drop", "refuse", "dangerous"),
        Desc = "How header names that cannot map to an environ key unambiguously (with '_') are treated: drop, refuse or dangerous.",
    });

    static SecuritySettings() { }

    public static void Register() { }
}
