using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Net.Security;
using Narwhal.Http;
using Narwhal.Settings;

namespace Narwhal.Worker;

/// <summary>
/// Gunicorn's SSL settings as .NET's TLS: certfile and keyfile (PEM), cert_reqs (0 none,
/// 1 optional, 2 required client certificates) checked against ca_certs, ciphers; or, when
/// the config file defines Gunicorn's ssl_context hook, what the context it returns says
/// (narwhal_tls.from_hook). Each worker loads the files when it starts, so a HUP
/// picks up renewed certificates.
/// </summary>
internal static class TlsSetup
{
    /// <summary>What the TLS server is to be, from the settings or from the ssl_context hook.</summary>
    private sealed record Plan(string CertFile, string KeyFile, int CertReqs, List<string> CaFiles, SslProtocols Protocols, List<int>? Ciphers);

    /// <summary>The TLS server options, or null when certfile is not set.</summary>
    /// <param name="cipherSuites">Reads an OpenSSL cipher string (the embedded Python's ssl module).</param>
    public static SslServerAuthenticationOptions? From(Config config, Func<string, List<int>> cipherSuites)
    {
        if (config.Get(SslSettings.CertFile).Length == 0) return null;
        string? fromHook;
        try
        {
            fromHook = TlsTranslation.FromHook();
        }
        catch (Python.PythonException e)
        {
            throw new ConfigException($"ssl_context: {e.PythonMessage}\n{e.PythonTraceback}");
        }
        var plan = fromHook != null ? FromHook(fromHook) : FromSettings(config, cipherSuites);

        X509Certificate2 certificate;
        try
        {
            certificate = X509Certificate2.CreateFromPemFile(plan.CertFile, plan.KeyFile.Length > 0 ? plan.KeyFile : null);
        }
        catch (Exception e) when (e is CryptographicException or IOException or ArgumentException)
        {
            throw new ConfigException($"Invalid value for certfile/keyfile: cannot load '{plan.CertFile}'{(plan.KeyFile.Length > 0 ? $" with '{plan.KeyFile}'" : "")}: {e.Message}");
        }
        // A certificate loaded from PEM keeps its key ephemeral; OpenSSL wants it exportable.
        certificate = X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
        var options = new SslServerAuthenticationOptions
        {
            ServerCertificate = certificate,
            EnabledSslProtocols = plan.Protocols,
            ClientCertificateRequired = plan.CertReqs != 0,
            ApplicationProtocols = HttpVersions.Alpn(config),
        };
        // Only suites .NET knows by number; OpenSSL's set is a subset of IANA's.
        if (plan.Ciphers != null) options.CipherSuitesPolicy = new CipherSuitesPolicy(plan.Ciphers.Select(n => (TlsCipherSuite)n));
        if (plan.CertReqs != 0)
        {
            var roots = new X509Certificate2Collection();
            foreach (var caFile in plan.CaFiles)
            {
                try { roots.ImportFromPemFile(caFile); }
                catch (Exception e) when (e is CryptographicException or IOException)
                {
                    throw new ConfigException($"Invalid value for ca_certs: cannot load '{caFile}': {e.Message}");
                }
            }
            var required = plan.CertReqs == 2;
            options.RemoteCertificateValidationCallback = (_, cert, _, _) =>
                cert is X509Certificate2 c ? Verify(c, roots) : !required;
        }
        return options;
    }

    private static Plan FromSettings(Config config, Func<string, List<int>> cipherSuites)
    {
        List<int>? suites = null;
        var ciphers = config.Get(SslSettings.Ciphers);
        if (ciphers.Length > 0)
        {
            try
            {
                suites = cipherSuites(ciphers);
            }
            catch (Python.PythonException e)
            {
                throw new ConfigException($"Invalid value for ciphers: '{ciphers}': {e.PythonMessage}");
            }
        }
        var caCerts = config.Get(SslSettings.CaCerts);
        // TLS 1.2 and 1.3; Gunicorn's ssl_version is deprecated and ignored, as here.
        return new Plan(config.Get(SslSettings.CertFile), config.Get(SslSettings.KeyFile), config.Get(SslSettings.CertReqs),
            caCerts.Length > 0 ? [caCerts] : [], SslProtocols.Tls12 | SslProtocols.Tls13, suites);
    }

    /// <summary>The ssl_context hook's context, as narwhal_tls.from_hook reads it back.</summary>
    private static Plan FromHook(string json)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(json);
        var root = doc.RootElement;
        // Versions below TLS 1.2 are never offered (the system's OpenSSL policy refuses them too).
        var protocols = root.GetProperty("minimum").GetString() == "TLSv1_3" ? SslProtocols.Tls13 : SslProtocols.Tls12 | SslProtocols.Tls13;
        if (root.GetProperty("maximum").GetString() is "TLSv1_2" or "TLSv1_1" or "TLSv1" or "SSLv3")
            protocols &= ~SslProtocols.Tls13;
        if (protocols == SslProtocols.None)
            throw new ConfigException("ssl_context: the context's TLS versions leave nothing Narwhal offers (TLS 1.2 and 1.3)");
        return new Plan(
            root.GetProperty("certfile").GetString()!, root.GetProperty("keyfile").GetString()!,
            root.GetProperty("verify_mode").GetInt32(),
            root.GetProperty("cafiles").EnumerateArray().Select(e => e.GetString()!).ToList(),
            protocols,
            root.GetProperty("ciphers").EnumerateArray().Select(e => e.GetInt32()).ToList());
    }

    /// <summary>A client certificate is good if it chains to ca_certs (or, without them, to the system's roots).</summary>
    private static bool Verify(X509Certificate2 certificate, X509Certificate2Collection roots)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (roots.Count > 0)
        {
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.AddRange(roots);
        }
        return chain.Build(certificate);
    }
}
