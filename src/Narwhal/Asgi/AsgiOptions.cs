using Narwhal.Settings;

namespace Narwhal.Asgi;

/// <summary>The asgi worker's settings, read once at start.</summary>
internal sealed record AsgiOptions(string Loop, string Lifespan, int DisconnectGrace, string RootPath, int MaxMessage,
    TimeSpan PingInterval, TimeSpan PingTimeout, double GracefulTimeout)
{
    public static AsgiOptions From(Config config) => new(
        config.Get(AsgiSettings.Loop).ToLowerInvariant(),
        config.Get(AsgiSettings.Lifespan).ToLowerInvariant(),
        config.Get(AsgiSettings.DisconnectGracePeriod),
        config.Get(AsgiSettings.RootPath),
        config.Get(AsgiSettings.WsMaxSize),
        TimeSpan.FromSeconds(config.Get(AsgiSettings.WsPingInterval)),
        TimeSpan.FromSeconds(config.Get(AsgiSettings.WsPingTimeout)),
        config.Get(ProcessSettings.GracefulTimeout));
}
