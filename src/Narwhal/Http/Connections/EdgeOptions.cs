using Narwhal.Settings;

namespace Narwhal.Http;

/// <summary>
/// What stands between a client and Kestrel's HTTP parser on each connection, from the
/// settings: the PROXY protocol, the connection limit and the slow-client limits. (What a
/// request itself may look like is <see cref="RequestRules"/>.)
/// </summary>
internal sealed record EdgeOptions(
    ProxyProtocolMode ProxyProtocol, ProxyTrust ProxyAllowFrom,
    int WorkerConnections, TimeSpan HeaderTimeout, int BodyMinRate)
{
    public static EdgeOptions From(Config config)
    {
        var headerTimeout = config.Get(SecuritySettings.HeaderTimeout);
        return new EdgeOptions(
            Http.ProxyProtocol.ParseMode(config.Get(SecuritySettings.ProxyProtocol)),
            new ProxyTrust(config.Get(SecuritySettings.ProxyAllowIps), new Dictionary<string, string>()),
            config.Get(CompatSettings.WorkerConnections),
            // Kestrel has no "never" for this limit (an infinite span reads as already past): a year will do.
            headerTimeout > 0 ? TimeSpan.FromSeconds(headerTimeout) : TimeSpan.FromDays(365),
            config.Get(SecuritySettings.BodyMinRate));
    }
}
