using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Net.Security;
using Narwhal.Settings;

namespace Narwhal.Worker;

/// <summary>
/// Gunicorn's SSL settings as Kestrel's TLS: certfile and keyfile (PEM), cert_reqs
/// (0 none, 1 optional, 2 required client certificates) checked against ca_certs. Each
/// worker loads the files when it starts, so a HUP picks up renewed certificates.
/// </summary>
internal static class TlsSetup
{
    /// <summary>The TLS server options, or null when certfile is not set.</summary>
    /// <param name="cipherSuites">Reads an OpenSSL cipher string (the embedded Python's ssl module).</param>
    public static SslServerAuthenticationOptions? From(Config config, Func<string, List<int>> cipherSuites)
    {
        var certfile = config.Get(SslSettings.CertFile);
        if (certfile.Length == 0) return null;
        var keyfile = config.Get(SslSettings.KeyFile);
        X509Certificate2 certificate;
        try
        {
            certificate = X509Certificate2.CreateFromPemFile(certfile, keyfile.Length > 0 ? keyfile : null);
        }
        catch (Exception e) when (e is CryptographicException or IOException or ArgumentException)
        {
            throw new ConfigException($"Invalid value for certfile/keyfile: cannot load '{certfile}'{(keyfile.Length > 0 ? $" with '{keyfile}'" : "")}: {e.Message}");
        }
        // A certificate loaded from PEM keeps its key ephemeral; OpenSSL wants it exportable.
        certificate = X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
        var certReqs = config.Get(SslSettings.CertReqs);
        var options = new SslServerAuthenticationOptions
        {
            ServerCertificate = certificate,
            // TLS 1.2 and 1.3; Gunicorn's ssl_version is deprecated and ignored, as here.
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            ClientCertificateRequired = certReqs != 0,
            ApplicationProtocols = HttpVersions.Alpn(config),
        };
        var ciphers = config.Get(SslSettings.Ciphers);
        if (ciphers.Length > 0)
        {
            List<int> suites;
            try
            {
                suites = cipherSuites(ciphers);
            }
            catch (Python.PythonException e)
            {
                throw new ConfigException($"Invalid value for ciphers: '{ciphers}': {e.PythonMessage}");
            }
            // Only suites .NET knows by number; OpenSSL's set is a subset of IANA's.
            options.CipherSuitesPolicy = new CipherSuitesPolicy(suites.Select(n => (TlsCipherSuite)n));
        }
        var caCerts = config.Get(SslSettings.CaCerts);
        if (certReqs != 0)
        {
            var roots = new X509Certificate2Collection();
            if (caCerts.Length > 0)
            {
                try { roots.ImportFromPemFile(caCerts); }
                catch (Exception e) when (e is CryptographicException or IOException)
                {
                    throw new ConfigException($"Invalid value for ca_certs: cannot load '{caCerts}': {e.Message}");
                }
            }
            var required = certReqs == 2;
            options.RemoteCertificateValidationCallback = (_, cert, _, _) =>
                cert is X509Certificate2 c ? Verify(c, roots) : !required;
        }
        return options;
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
