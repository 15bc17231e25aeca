namespace Narwhal.Settings;

/// <summary>Gunicorn's Logging section: access and error logs, Python logging configuration, syslog and statsd.</summary>
internal static class LoggingSettings
{
    /// <summary>Gunicorn's default access log format, byte for byte.</summary>
    public const string DefaultAccessFormat = "%(h)s %(l)s %(u)s %(t)s \"%(r)s\" %(s)s %(b)s \"%(f)s\" \"%(a)s\"";

    public const string DefaultLoggerClass = "gunicorn.glogging.Logger";

    public static readonly Setting<string> AccessLog = SettingsRegistry.Add(new Setting<string>
    {
        Name = "accesslog", Section = Sections.Logging, Cli = ["--access-logfile"], Meta = "FILE",
        Default = () => "", Validate = raw => raw.Trim(),
        Desc = "The access log file to write to; '-' means stdout. None: no access log.",
    });

    public static readonly Setting<bool> DisableRedirectAccessToSyslog = SettingsRegistry.Add(new Setting<bool>
    {
        Name = "disable_redirect_access_to_syslog", Section = Sections.Logging, Cli = ["--disable-redirect-access-to-syslog"],
        Action = CliAction.StoreTrue, Default = () => false, Validate = Validators.Bool,
        Desc = "With --log-syslog, do not send access log lines to syslog.",
    });

    public static readonly Setting<string> AccessLogFormat = SettingsRegistry.Add(new Setting<string>
    {
        Name = "access_log_format", Section = Sections.Logging, Cli = ["--access-logformat"], Meta = "STRING",
        Default = () => DefaultAccessFormat, Validate = raw => raw.Trim(),
        Desc = "The access log format, with Gunicorn's atoms: h l u t r m U q H s B b f a T D M L p {header}i {header}o {variable}e, each as %(atom)s.",
    });

    public static readonly Setting<bool> AccessLogJson = SettingsRegistry.Add(new Setting<bool>
    {
        Name = "access_log_json", Section = Sections.Logging, Cli = ["--access-log-json"], Action = CliAction.StoreTrue,
        Default = () => false, Validate = Validators.Bool,
        Desc = "Write the access log as one JSON object per line instead of access_log_format, to the same places " +
            "(access_log, syslog), each atom under a stable name, any byte the client sent escaped: see docs/access-log-json.md.",
    });

    public static readonly Setting<List<string>> AccessLogJsonFields = SettingsRegistry.Add(new Setting<List<string>>
    {
        Name = "access_log_json_fields", Section = Sections.Logging, Cli = ["--access-log-json-fields"], Meta = "FIELDS",
        Default = () => [], DefaultDoc = "every field", Validate = AccessJsonFields.Validate,
        Desc = "With access_log_json: the fields each line has, comma-separated, e.g. 'time,status,path,duration_ms,request_headers.x-request-id'. " +
            "request_headers.NAME, response_headers.NAME and environ.KEY pick one header or WSGI environ value; " +
            "request_headers alone is every request header (credentials redacted). By default, every field but environ.",
    });

    public static readonly Setting<string> ErrorLog = SettingsRegistry.Add(new Setting<string>
    {
        Name = "errorlog", Section = Sections.Logging, Cli = ["--error-logfile", "--log-file"], Meta = "FILE",
        Default = () => "-", Validate = raw => raw.Trim(),
        Desc = "The error log file to write to; '-' means stderr.",
    });

    public static readonly Setting<string> LogLevel = SettingsRegistry.Add(new Setting<string>
    {
        Name = "loglevel", Section = Sections.Logging, Cli = ["--log-level"], Meta = "LEVEL",
        Default = () => "info", Validate = raw => Validators.OneOfIgnoreCase(raw, "debug", "info", "warning", "error", "critical"),
        Desc = "The granularity of error log output: debug, info, warning, error or critical.",
        Narwhal = "An unknown level is an error at start-up; Gunicorn falls back to info without a word.",
    });

    // Named after --log-level, whose words it takes, for the one component whose messages it
    // filters; no level above error, so Kestrel's errors always reach the error log.
    public static readonly Setting<string> KestrelLogLevel = SettingsRegistry.Add(new Setting<string>
    {
        Name = "kestrel_log_level", Section = Sections.Logging, Cli = ["--kestrel-log-level"], Meta = "LEVEL",
        Default = () => "error", Validate = raw => Validators.OneOfIgnoreCase(raw, "debug", "info", "warning", "error"),
        Desc = "The least severe of Kestrel's own messages (the HTTP server under each worker: connections accepted, " +
            "FIN received, bad requests) that go to the error log, --log-level permitting: debug, info, warning or error. " +
            "Its errors always do. With --log-level debug alone the error log has Gunicorn's debug lines, not Kestrel's.",
    });

    public static readonly Setting<bool> CaptureOutput = SettingsRegistry.Add(new Setting<bool>
    {
        Name = "capture_output", Section = Sections.Logging, Cli = ["--capture-output"], Action = CliAction.StoreTrue,
        Default = () => false, Validate = Validators.Bool,
        Desc = "Redirect the stdout and stderr of workers (print() in the app) to the error log file.",
    });

    public static readonly Setting<string> LoggerClass = SettingsRegistry.Add(new Setting<string>
    {
        Name = "logger_class", Section = Sections.Logging, Cli = ["--logger-class"], Meta = "STRING",
        Default = () => DefaultLoggerClass, Validate = raw => raw.Trim(), AcceptsStructured = true,
        Desc = "A class that quacks like gunicorn.glogging.Logger (a dotted path, or a class in the config file). It gets every error and access log call.",
        Narwhal = "The default logger is Narwhal's own (native code); 'gunicorn.glogging.Logger' and 'simple' name it. A subclass needs gunicorn importable by the app's Python.",
    });

    public static readonly Setting<string> LogConfig = SettingsRegistry.Add(new Setting<string>
    {
        Name = "logconfig", Section = Sections.Logging, Cli = ["--log-config"], Meta = "FILE",
        Default = () => "", Validate = raw => raw.Trim(),
        Desc = "A logging configuration file in the ini format of Python's logging.config.fileConfig.",
    });

    public static readonly Setting<string> LogConfigDict = SettingsRegistry.Add(new Setting<string>
    {
        Name = "logconfig_dict", Section = Sections.Logging, Default = () => "{}", DefaultDoc = "{}", EmptyIsNone = false,
        Validate = raw => raw, AcceptsStructured = true,
        Desc = "A logging configuration dict (logging.config.dictConfig). Takes precedence over logconfig and logconfig_json.",
    });

    public static readonly Setting<string> LogConfigJson = SettingsRegistry.Add(new Setting<string>
    {
        Name = "logconfig_json", Section = Sections.Logging, Cli = ["--log-config-json"], Meta = "FILE",
        Default = () => "", Validate = raw => raw.Trim(),
        Desc = "A JSON file holding a logging.config.dictConfig dictionary.",
    });

    public static readonly Setting<string> SyslogAddr = SettingsRegistry.Add(new Setting<string>
    {
        Name = "syslog_addr", Section = Sections.Logging, Cli = ["--log-syslog-to"], Meta = "SYSLOG_ADDR",
        Default = () => "udp://localhost:514", Validate = SyslogAddress,
        Desc = "Where syslog messages go: unix://PATH#TYPE (stream or dgram), udp://HOST:PORT or tcp://HOST:PORT.",
    });

    public static readonly Setting<bool> Syslog = SettingsRegistry.Add(new Setting<bool>
    {
        Name = "syslog", Section = Sections.Logging, Cli = ["--log-syslog"], Action = CliAction.StoreTrue,
        Default = () => false, Validate = Validators.Bool,
        Desc = "Send the error log (and the access log, unless disable_redirect_access_to_syslog) to syslog too.",
    });

    public static readonly Setting<string> SyslogPrefix = SettingsRegistry.Add(new Setting<string>
    {
        Name = "syslog_prefix", Section = Sections.Logging, Cli = ["--log-syslog-prefix"], Meta = "SYSLOG_PREFIX",
        Default = () => "", Validate = raw => raw.Trim(),
        Desc = "The program name in syslog entries is 'gunicorn.<prefix>'; by default it is the process name.",
    });

    public static readonly Setting<string> SyslogFacility = SettingsRegistry.Add(new Setting<string>
    {
        Name = "syslog_facility", Section = Sections.Logging, Cli = ["--log-syslog-facility"], Meta = "SYSLOG_FACILITY",
        Default = () => "user", Validate = raw => Validators.OneOfIgnoreCase(raw, Posix.SyslogFacilities.Names),
        Desc = "The syslog facility name.",
    });

    public static readonly Setting<bool> EnableStdioInheritance = SettingsRegistry.Add(new Setting<bool>
    {
        Name = "enable_stdio_inheritance", Section = Sections.Logging, Cli = ["-R", "--enable-stdio-inheritance"],
        Action = CliAction.StoreTrue, Default = () => false, Validate = Validators.Bool,
        Desc = "With --daemon, keep stdout and stderr instead of sending them to /dev/null.",
    });

    public static readonly Setting<string> StatsdHost = SettingsRegistry.Add(new Setting<string>
    {
        Name = "statsd_host", Section = Sections.Logging, Cli = ["--statsd-host"], Meta = "STATSD_ADDR",
        Default = () => "", Validate = Validators.StatsdAddress,
        Desc = "The StatsD server to send metrics to: HOST:PORT (8125 by default) or unix:PATH.",
    });

    public static readonly Setting<string> DogstatsdTags = SettingsRegistry.Add(new Setting<string>
    {
        Name = "dogstatsd_tags", Section = Sections.Logging, Cli = ["--dogstatsd-tags"], Meta = "DOGSTATSD_TAGS",
        Default = () => "", EmptyIsNone = false, Validate = raw => raw.Trim(),
        Desc = "Comma-separated DogStatsD tags appended to every statsd metric.",
    });

    public static readonly Setting<string> StatsdPrefix = SettingsRegistry.Add(new Setting<string>
    {
        Name = "statsd_prefix", Section = Sections.Logging, Cli = ["--statsd-prefix"], Meta = "STATSD_PREFIX",
        Default = () => "", EmptyIsNone = false, Validate = raw => raw.Trim(),
        Desc = "A prefix for statsd metric names (a trailing '.' is added if missing).",
    });

    public static readonly Setting<string> MetricsBind = SettingsRegistry.Add(new Setting<string>
    {
        Name = "metrics_bind", Section = Sections.Metrics, Cli = ["--metrics-bind"], Meta = "ADDRESS",
        Default = () => "", Validate = raw => { if (raw.Trim().Length > 0) BindAddress.Parse(raw.Trim()); return raw.Trim(); },
        Desc = "Serve Prometheus metrics at http://ADDRESS/metrics from the master: requests, latency histogram, in-flight requests, workers, restarts.",
    });

    private static string SyslogAddress(string raw)
    {
        raw = raw.Trim();
        if (raw.StartsWith("unix://") || raw.StartsWith("udp://") || raw.StartsWith("tcp://")) return raw;
        throw new SettingValueException($"'{raw}' is not a syslog address (allowed: unix://PATH#TYPE, udp://HOST:PORT, tcp://HOST:PORT)");
    }

    static LoggingSettings() { }

    public static void Register() { }
}
