using System.Net.Security;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Narwhal.Settings;
using Narwhal.Syntax;

namespace Narwhal.Http;

/// <summary>The http2_* settings, as Kestrel's HTTP/2 limits take them.</summary>
internal sealed record Http2Tuning(int MaxStreams, int InitialWindowSize, int MaxFrameSize, int MaxHeaderListSize);

/// <summary>
/// http_protocols ("h1", "h2,h1", "h2"): the HTTP versions Kestrel speaks on every bind, and
/// the ALPN list offered over TLS, in the given order of preference. Cleartext HTTP/2 is
/// prior knowledge (h2c) and needs "h2" alone: without ALPN, Kestrel serves HTTP/1.1 on a
/// cleartext bind that allows both.
/// </summary>
internal static class HttpVersions
{
    private static List<string> Parse(string value) => HttpVersionList.Parse(value);

    public static HttpProtocols Kestrel(Config config)
    {
        var versions = Parse(config.Get(RecentGunicornSettings.HttpProtocols));
        return (versions.Contains("h1"), versions.Contains("h2")) switch
        {
            (true, true) => HttpProtocols.Http1AndHttp2,
            (false, true) => HttpProtocols.Http2,
            _ => HttpProtocols.Http1,
        };
    }

    public static Http2Tuning Tuning(Config config) => new(
        config.Get(RecentGunicornSettings.Http2MaxConcurrentStreams),
        config.Get(RecentGunicornSettings.Http2InitialWindowSize),
        config.Get(RecentGunicornSettings.Http2MaxFrameSize),
        config.Get(RecentGunicornSettings.Http2MaxHeaderListSize));

    public static List<SslApplicationProtocol> Alpn(Config config) =>
        Parse(config.Get(RecentGunicornSettings.HttpProtocols))
            .Select(v => v == "h2" ? SslApplicationProtocol.Http2 : SslApplicationProtocol.Http11).ToList();
}
