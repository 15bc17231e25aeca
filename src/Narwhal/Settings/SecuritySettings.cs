namespace Narwhal.Settings;

/// <summary>
/// Request limits, header handling, proxy trust and slow-client limits: Gunicorn's Security
/// section, the HTTP-parsing part of Server Mechanics, and Narwhal's own timeouts for clients
/// that send slowly (Gunicorn has none; its sync worker is pinned by such a client).
/// </summary>
internal static class SecuritySettings
{

    private static Setting<int> Limit(string name, string flag, int def, string desc) => SettingsRegistry.Add(new Setting<int>
    {
        Name = name, Section = Sections.Security, Cli = [flag], Meta = "INT",
        Default = () => def, Validate = Validators.NonNegativeInt, Desc = desc,
    });

    private static Setting<bool> Flag(string name, string desc, string? refusal = null) => SettingsRegistry.Add(new Setting<bool>
    {
        Name = name, Section = Sections.ServerMechanics, Cli = ["--" + name.Replace('_', '-')], Action = CliAction.StoreTrue,
        Default = () => false, Validate = Validators.Bool, Honour = v => v ? refusal : null, Desc = desc,
    });

    private static Setting<int> Seconds(string name, int def, string desc) => SettingsRegistry.Add(new Setting<int>
    {
        Name = name, Section = Sections.Security, Cli = ["--" + name.Replace('_', '-')], Meta = "INT",
        Default = () => def, Validate = Validators.NonNegativeInt, Desc = desc,
        Narwhal = "Narwhal only: Gunicorn has no such limit.",
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
        Validate = Validators.AddressList,
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
        Desc = "Accept the PROXY protocol from proxy_allow_ips in front of each connection: off, v1, v2 or auto (a bare --proxy-protocol).",
    });

    public static readonly Setting<List<string>> ProxyAllowIps = SettingsRegistry.Add(new Setting<List<string>>
    {
        Name = "proxy_allow_ips", Section = Sections.ServerMechanics, Cli = ["--proxy-allow-from"],
        Default = () => ["127.0.0.1", "::1"],
        Validate = Validators.AddressList,
        Desc = "Front-end addresses allowed to send the PROXY protocol: comma-separated IPs, CIDR networks, or '*'. " +
               "A PROXY header from any other peer gets a 403. Only matters with proxy_protocol.",
    });

    public static readonly Setting<bool> PermitObsoleteFolding = Flag("permit_obsolete_folding",
        "Accept requests whose headers use obsolete line folding.");

    public static readonly Setting<bool> StripHeaderSpaces = Flag("strip_header_spaces",
        "Strip spaces between a header name and the ':' (known to enable request smuggling).");

    public static readonly Setting<bool> PermitUnconventionalHttpMethod = Flag("permit_unconventional_http_method",
        "Accept request methods that do not follow convention (lowercase, under 3 or over 20 characters, '#').");

    public static readonly Setting<bool> PermitUnconventionalHttpVersion = Flag("permit_unconventional_http_version",
        "Accept HTTP/1 versions other than 1.0 and 1.1.",
        "Kestrel, which parses HTTP for Narwhal, speaks HTTP/1.0 and 1.1 only and answers other versions with 505");

    public static readonly Setting<bool> CasefoldHttpMethod = Flag("casefold_http_method",
        "Uppercase the request method before passing it on.");

    public static readonly Setting<List<string>> ForwarderHeaders = SettingsRegistry.Add(new Setting<List<string>>
    {
        Name = "forwarder_headers", Section = Sections.ServerMechanics, Cli = ["--forwarder-headers"],
        Default = () => ["SCRIPT_NAME", "PATH_INFO"], Validate = Validators.CommaList,
        Desc = "Header names with '_' that a front-end from forwarded_allow_ips may still pass to the app whatever header_map says " +
               "(a SCRIPT_NAME header then mounts the app below that prefix); '*' for any.",
    });

    public static readonly Setting<string> HeaderMap = SettingsRegistry.Add(new Setting<string>
    {
        Name = "header_map", Section = Sections.ServerMechanics, Cli = ["--header-map"],
        Default = () => "drop", Validate = raw => Validators.OneOfIgnoreCase(raw, "drop", "refuse", "dangerous"),
        Desc = "How header names that cannot map to an environ key unambiguously (with '_') are treated: drop, refuse or dangerous.",
    });

    public static readonly Setting<int> HeaderTimeout = Seconds("header_timeout", 30,
        "Seconds a client has to send a request's line and headers; past it the connection gets a 408 and is closed. " +
        "Slow clients wait in the worker's I/O threads, never on a Python thread. 0 for no limit.");

    public static readonly Setting<int> BodyMinRate = SettingsRegistry.Add(new Setting<int>
    {
        Name = "body_min_rate", Section = Sections.Security, Cli = ["--body-min-rate"], Meta = "BYTES",
        Default = () => 240, Validate = Validators.NonNegativeInt,
        Desc = "The slowest a client may send a request body, in bytes per second on average after a 5 s grace; " +
               "slower is cut off with a 408. 0 for no limit.",
        Narwhal = "Narwhal only: Gunicorn has no such limit.",
    });

    public static readonly Setting<int> BodyBufferSize = SettingsRegistry.Add(new Setting<int>
    {
        Name = "body_buffer_size", Section = Sections.Security, Cli = ["--body-buffer-size"], Meta = "BYTES",
        Default = () => 64 * 1024, Validate = Validators.NonNegativeInt,
        Desc = "Request bodies up to this size are received whole before the request takes a Python thread, so a slow upload " +
               "of a form or JSON document never holds one; larger bodies stream to the app. 0 streams every body.",
        Narwhal = "Narwhal only: Gunicorn hands the socket to the app, whose thread waits for every byte.",
    });

    static SecuritySettings() { }

    public static void Register() { }
}
