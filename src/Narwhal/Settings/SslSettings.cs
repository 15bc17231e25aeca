namespace Narwhal.Settings;

/// <summary>Gunicorn's SSL section, served by Kestrel's TLS (Worker/TlsSetup.cs reads it).</summary>
internal static class SslSettings
{
    private static Setting<string> File(string name, string flag, string desc) => SettingsRegistry.Add(new Setting<string>
    {
        Name = name, Section = Sections.Ssl, Cli = [flag], Meta = "FILE",
        Default = () => "", Validate = raw => raw.Trim(), Desc = desc,
        Honour = v => v.Length == 0 || System.IO.File.Exists(v) ? null : $"'{v}' does not exist",
    });

    public static readonly Setting<string> KeyFile = File("keyfile", "--keyfile", "SSL key file (PEM). May be left out when certfile holds the key.");
    public static readonly Setting<string> CertFile = File("certfile", "--certfile", "SSL certificate file (PEM, with its chain). Setting it serves HTTPS: wsgi.url_scheme is https.");

    public static readonly Setting<string> SslVersion = SettingsRegistry.Add(new Setting<string>
    {
        Name = "ssl_version", Section = Sections.Ssl, Cli = ["--ssl-version"],
        Default = () => "TLS", DefaultDoc = "TLS", EmptyIsNone = false,
        Validate = raw => Validators.OneOf(raw.Trim().Replace("PROTOCOL_", ""), "TLS", "TLS_SERVER", "SSLv23", "SSLv3", "TLSv1", "TLSv1_1", "TLSv1_2", "2", "16", "17"),
        Desc = "Deprecated and ignored by Gunicorn (use the ssl_context hook); accepted for compatibility.",
    });

    public static readonly Setting<int> CertReqs = SettingsRegistry.Add(new Setting<int>
    {
        Name = "cert_reqs", Section = Sections.Ssl, Cli = ["--cert-reqs"],
        Default = () => 0, Validate = raw => Validators.OneOf(raw.Trim(), "0", "1", "2") is var v ? int.Parse(v) : 0,
        Desc = "Whether a client certificate is asked for: 0 no, 1 optional, 2 required; it must chain to ca_certs.",
    });

    public static readonly Setting<string> CaCerts = File("ca_certs", "--ca-certs", "CA certificates file.");

    public static readonly Setting<bool> SuppressRaggedEofs = SettingsRegistry.Add(new Setting<bool>
    {
        Name = "suppress_ragged_eofs", Section = Sections.Ssl, Cli = ["--suppress-ragged-eofs"], Action = CliAction.StoreTrue,
        Default = () => true, Validate = Validators.Bool,
        Desc = "Suppress ragged EOFs (see the ssl module). Only matters with TLS.",
        Narwhal = "A client that closes TLS without close_notify simply ends its connection, as with True; there is no Python socket to raise in.",
    });

    public static readonly Setting<bool> DoHandshakeOnConnect = SettingsRegistry.Add(new Setting<bool>
    {
        Name = "do_handshake_on_connect", Section = Sections.Ssl, Cli = ["--do-handshake-on-connect"], Action = CliAction.StoreTrue,
        Default = () => false, Validate = Validators.Bool,
        Desc = "Perform the TLS handshake as soon as a connection is accepted. Only matters with TLS.",
        Narwhal = "Narwhal always does: the handshake runs right after accept, in C#, bounded to 10 s, never on a Python thread.",
    });

    public static readonly Setting<string> Ciphers = SettingsRegistry.Add(new Setting<string>
    {
        Name = "ciphers", Section = Sections.Ssl, Cli = ["--ciphers"],
        Default = () => "", Validate = raw => raw.Trim(),
        Desc = "The TLS cipher suites, in OpenSSL cipher list format; empty for OpenSSL's defaults.",
        Narwhal = "Read by the user's Python ssl module, as in Gunicorn, and applied as .NET's cipher suite policy. " +
                  "A string that selects no suite stops the worker from booting, with OpenSSL's message.",
    });

    static SslSettings() { }

    public static void Register() { }
}
