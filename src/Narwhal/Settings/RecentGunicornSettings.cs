namespace Narwhal.Settings;

/// <summary>
/// Settings Gunicorn added in 24.x-26.x for machinery Narwhal does not have: dirty arbiters,
/// the control socket (gunicornc), Gunicorn's own HTTP/2 tuning and its choice of HTTP
/// parser. Each is declared so a config file written for current Gunicorn reads cleanly;
/// values Narwhal cannot honour are refused with the reason.
/// </summary>
internal static class RecentGunicornSettings
{
    private const string DirtySection = Sections.Dirty;
    private const string Http2Section = Sections.Http2;
    private const string NoDirty = "Narwhal has no dirty arbiters; run long blocking work in a task queue or a separate service";
    private const string NoControl = "Narwhal has no control socket (gunicornc); manage it with signals (HUP, TTIN, TTOU, USR1)";

    public static readonly Setting<List<string>> DirtyApps = SettingsRegistry.Add(new Setting<List<string>>
    {
        Name = "dirty_apps", Section = DirtySection, Cli = ["--dirty-app"], Meta = "STRING", Action = CliAction.Append,
        Default = () => [], Validate = Validators.OneItem, Honour = v => v.Count == 0 ? null : NoDirty,
        Desc = "Dirty applications (module:class) loaded by a separate pool of dirty workers for long blocking operations.",
    });

    private static Setting<int> DirtyInt(string name, string flag, int def, string desc) => SettingsRegistry.Add(new Setting<int>
    {
        Name = name, Section = DirtySection, Cli = [flag], Meta = "INT",
        Default = () => def, Validate = Validators.NonNegativeInt, Honour = v => v == def ? null : NoDirty, Desc = desc,
    });

    public static readonly Setting<int> DirtyWorkers = DirtyInt("dirty_workers", "--dirty-workers", 0, "The number of dirty worker processes.");
    public static readonly Setting<int> DirtyTimeout = DirtyInt("dirty_timeout", "--dirty-timeout", 300, "Seconds a dirty operation may run.");
    public static readonly Setting<int> DirtyThreads = DirtyInt("dirty_threads", "--dirty-threads", 1, "Threads per dirty worker.");
    public static readonly Setting<int> DirtyGracefulTimeout = DirtyInt("dirty_graceful_timeout", "--dirty-graceful-timeout", 30, "Seconds dirty workers get to finish on shutdown.");

    public static readonly Setting<string> ControlSocket = SettingsRegistry.Add(new Setting<string>
    {
        Name = "control_socket", Section = Sections.Control, Cli = ["--control-socket"], Meta = "PATH",
        Default = () => "", DefaultDoc = "$XDG_RUNTIME_DIR/gunicorn.ctl or $HOME/.gunicorn/gunicorn.ctl",
        Validate = raw => raw.Trim(), Honour = v => v.Length == 0 ? null : NoControl,
        Desc = "The unix socket of Gunicorn's control interface.",
        Narwhal = "There is no control interface: Gunicorn serves one by default, Narwhal does not (a documented difference).",
    });

    public static readonly Setting<string> ControlSocketMode = SettingsRegistry.Add(new Setting<string>
    {
        Name = "control_socket_mode", Section = Sections.Control, Cli = ["--control-socket-mode"], Meta = "INT",
        Default = () => "0o600", EmptyIsNone = false, Validate = raw => raw.Trim(),
        Honour = v => v == "0o600" ? null : NoControl,
        Desc = "The file mode of the control socket.",
    });

    public static readonly Setting<bool> ControlSocketDisable = SettingsRegistry.Add(new Setting<bool>
    {
        Name = "control_socket_disable", Section = Sections.Control, Cli = ["--no-control-socket"], Action = CliAction.StoreTrue,
        Default = () => false, Validate = Validators.Bool,
        Desc = "Do not open the control socket. Narwhal never opens one, so this is always true in effect.",
    });

    public static readonly Setting<string> HttpProtocols = SettingsRegistry.Add(new Setting<string>
    {
        Name = "http_protocols", Section = Http2Section, Cli = ["--http-protocols"], Meta = "STRING",
        Default = () => "h1", EmptyIsNone = false,
        Validate = raw => Syntax.HttpVersionList.Parse(raw) is { Count: > 0 } versions && versions.All(Syntax.HttpVersionList.Known.Contains)
            ? raw.Trim() : throw new SettingValueException($"'{raw}' is not a list of HTTP versions (allowed: h1, h2, comma-separated)"),
        Desc = "The HTTP versions offered, in order of preference: 'h1'; 'h2,h1' (HTTP/2 over TLS, chosen by ALPN); 'h2' (HTTP/2 only, which on a cleartext bind is h2c prior knowledge).",
        Narwhal = "HTTP/2 is Kestrel's; the http2_* settings set its limits.",
    });

    private static Setting<int> Http2Int(string name, string flag, int def, int min, int max, string desc) => SettingsRegistry.Add(new Setting<int>
    {
        Name = name, Section = Http2Section, Cli = [flag], Meta = "INT",
        Default = () => def, Desc = desc,
        // The ranges RFC 9113 (and Kestrel) allow.
        Validate = raw => Validators.PositiveInt(raw) is var v && v >= min && v <= max ? v
            : throw new SettingValueException($"'{raw}' is out of range (allowed: {min} to {max})"),
    });

    public static readonly Setting<int> Http2MaxConcurrentStreams = Http2Int("http2_max_concurrent_streams", "--http2-max-concurrent-streams", 100, 1, int.MaxValue,
        "HTTP/2: streams at once per connection.");
    public static readonly Setting<int> Http2InitialWindowSize = Http2Int("http2_initial_window_size", "--http2-initial-window-size", 65535, 65535, int.MaxValue,
        "HTTP/2: initial flow-control window of each stream, bytes.");
    public static readonly Setting<int> Http2MaxFrameSize = Http2Int("http2_max_frame_size", "--http2-max-frame-size", 16384, 16384, 16777215,
        "HTTP/2: largest frame payload, bytes.");
    public static readonly Setting<int> Http2MaxHeaderListSize = Http2Int("http2_max_header_list_size", "--http2-max-header-list-size", 65536, 1, int.MaxValue,
        "HTTP/2: largest header list, bytes.");

    public static readonly Setting<string> HttpParser = SettingsRegistry.Add(new Setting<string>
    {
        Name = "http_parser", Section = Sections.ServerMechanics, Cli = ["--http-parser"], Meta = "STRING",
        Default = () => "auto", EmptyIsNone = false, Validate = raw => Validators.OneOfIgnoreCase(raw, "auto", "fast", "python"),
        Desc = "Which of Gunicorn's HTTP/1 parsers to use: auto, fast (C) or python.",
        Narwhal = "Narwhal parses HTTP with Kestrel plus the checks of Http/Rules/RequestPolicy.cs, held to Gunicorn's corpus; every value gets that parser.",
    });

    static RecentGunicornSettings() { }

    public static void Register() { }
}
