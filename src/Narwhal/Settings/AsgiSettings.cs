namespace Narwhal.Settings;

/// <summary>
/// The ASGI worker's settings: Gunicorn 24+'s (asgi_loop, asgi_lifespan,
/// asgi_disconnect_grace_period, root_path) and Narwhal's WebSocket limits, which uvicorn
/// users know as --ws-max-size, --ws-ping-interval and --ws-ping-timeout.
/// </summary>
internal static class AsgiSettings
{
    public static readonly Setting<string> Loop = SettingsRegistry.Add(new Setting<string>
    {
        Name = "asgi_loop", Section = Sections.WorkerProcesses, Cli = ["--asgi-loop"], Meta = "STRING",
        Choices = ["auto", "asyncio", "uvloop"], Default = () => "auto",
        Validate = raw => Validators.OneOfIgnoreCase(raw, "auto", "asyncio", "uvloop"),
        Desc = "The event loop of the asgi worker: auto (uvloop when it can be imported, else asyncio), asyncio, or uvloop.",
    });

    public static readonly Setting<string> Lifespan = SettingsRegistry.Add(new Setting<string>
    {
        Name = "asgi_lifespan", Section = Sections.WorkerProcesses, Cli = ["--asgi-lifespan"], Meta = "STRING",
        Choices = ["auto", "on", "off"], Default = () => "auto",
        Validate = raw => Validators.OneOfIgnoreCase(raw, "auto", "on", "off"),
        Desc = "The ASGI lifespan protocol: auto (run it; an app that raises on the lifespan scope is served without it), " +
               "on (an app that fails it stops the worker: exit code 3) or off.",
    });

    public static readonly Setting<int> DisconnectGracePeriod = SettingsRegistry.Add(new Setting<int>
    {
        Name = "asgi_disconnect_grace_period", Section = Sections.WorkerProcesses, Cli = ["--asgi-disconnect-grace-period"], Meta = "INT",
        Default = () => 3, Validate = Validators.NonNegativeInt,
        Desc = "How many seconds a request's task may run after its client left (it has been sent http.disconnect) " +
               "before it is cancelled; CancelledError reaches the app. 0 cancels at once.",
    });

    public static readonly Setting<string> RootPath = SettingsRegistry.Add(new Setting<string>
    {
        Name = "root_path", Section = Sections.ServerMechanics, Cli = ["--root-path"], Meta = "STRING",
        Default = () => "", EmptyIsNone = false, Validate = Validators.String,
        Desc = "The root_path of each ASGI scope: where the app is mounted behind a proxy (e.g. /api).",
    });

    public static readonly Setting<int> WsMaxSize = SettingsRegistry.Add(new Setting<int>
    {
        Name = "ws_max_size", Section = Sections.WorkerProcesses, Cli = ["--ws-max-size"], Meta = "BYTES",
        Default = () => 16 * 1024 * 1024, Validate = Validators.PositiveInt,
        Desc = "The largest WebSocket message the asgi worker accepts, in bytes; a larger one closes the connection with 1009.",
        Narwhal = "uvicorn's --ws-max-size, with its default.",
    });

    public static readonly Setting<double> WsPingInterval = SettingsRegistry.Add(new Setting<double>
    {
        Name = "ws_ping_interval", Section = Sections.WorkerProcesses, Cli = ["--ws-ping-interval"], Meta = "SECONDS",
        Default = () => 20.0, Validate = Validators.NonNegativeSeconds,
        Desc = "Seconds between the server's pings on an idle WebSocket; 0 sends none.",
        Narwhal = "uvicorn's --ws-ping-interval, with its default.",
    });

    public static readonly Setting<double> WsPingTimeout = SettingsRegistry.Add(new Setting<double>
    {
        Name = "ws_ping_timeout", Section = Sections.WorkerProcesses, Cli = ["--ws-ping-timeout"], Meta = "SECONDS",
        Default = () => 20.0, Validate = Validators.NonNegativeSeconds,
        Desc = "Seconds a WebSocket peer has to answer a ping before the connection is closed; 0 waits forever.",
        Narwhal = "uvicorn's --ws-ping-timeout, with its default.",
    });

    // An explicit static constructor drops beforefieldinit, so calling Register() runs the initializers.
    static AsgiSettings() { }

    public static void Register() { }
}
