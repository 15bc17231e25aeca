using System.Text;

namespace Narwhal.Logging;

internal enum LogLevel { Debug = 10, Info = 20, Warning = 30, Error = 40, Critical = 50 }

/// <summary>
/// The error log, in Gunicorn's line shape so existing parsers and alerts keep working:
/// <c>[2026-11-23 10:00:00 +0000] [1234] [INFO] Booting worker with pid: 1234</c>.
/// Goes to stderr until <see cref="Configure"/> points it at --error-logfile, syslog or a
/// Python logger (--log-config, --logger-class).
/// </summary>
internal static class ErrorLog
{
    private static readonly int _pid = Environment.ProcessId;
    private static LogFile _file = LogFile.Open("-", 2);
    private static SyslogSink? _syslog;
    private static string _syslogTag = "";

    public static void Debug(string message) => Write(LogLevel.Debug, message);
    public static void Info(string message) => Write(LogLevel.Info, message);
    public static void Warning(string message) => Write(LogLevel.Warning, message);
    public static void Error(string message) => Write(LogLevel.Error, message);
    public static void Critical(string message) => Write(LogLevel.Critical, message);

    public static LogLevel Threshold { get; set; } = LogLevel.Info;

    /// <summary>
    /// Set when a Python logger owns the error log: every record goes to it instead (it
    /// applies its own level and handlers). Returns false if Python could not take it.
    /// </summary>
    public static Func<LogLevel, string, bool>? Python { get; set; }

    public static LogFile File => _file;

    public static void Configure(LogFile file, LogLevel threshold, SyslogSink? syslog, string syslogTag)
    {
        _file = file;
        Threshold = threshold;
        _syslog = syslog;
        _syslogTag = syslogTag;
    }

    /// <summary>An exception with its traceback (Gunicorn's log.exception: ERROR, counted as gunicorn.log.exception).</summary>
    public static void Exception(string message)
    {
        Statsd.Current?.Increment("gunicorn.log.exception");
        Emit(LogLevel.Error, message);
    }

    public static void Write(LogLevel level, string message)
    {
        Statsd.Current?.Log(level);
        Emit(level, message);
    }

    private static void Emit(LogLevel level, string message)
    {
        if (Python is { } python && python(level, message)) return;
        if (level < Threshold) return;
        _file.Write(Line(level, message));
        _syslog?.Send(level, _syslogTag, message);
    }

    public static string Line(LogLevel level, string message) =>
        $"{Timestamp(DateTimeOffset.Now)} [{_pid}] [{Name(level)}] {message}\n";

    /// <summary>Gunicorn's error log date: <c>[%Y-%m-%d %H:%M:%S %z]</c>.</summary>
    public static string Timestamp(DateTimeOffset now)
    {
        var offset = now.Offset;
        var sign = offset < TimeSpan.Zero ? '-' : '+';
        return $"[{now:yyyy-MM-dd HH:mm:ss} {sign}{Math.Abs(offset.Hours):00}{Math.Abs(offset.Minutes):00}]";
    }

    /// <summary>Text as it is (wsgi.errors, tracebacks already formatted).</summary>
    public static void WriteRaw(string text) => _file.Write(Encoding.UTF8.GetBytes(text));

    public static void Reopen() => _file.Reopen();

    public static string Name(LogLevel level) => level switch
    {
        LogLevel.Debug => "DEBUG",
        LogLevel.Info => "INFO",
        LogLevel.Warning => "WARNING",
        LogLevel.Error => "ERROR",
        _ => "CRITICAL",
    };

    public static LogLevel Parse(string name) => name.ToLowerInvariant() switch
    {
        "debug" => LogLevel.Debug,
        "warning" => LogLevel.Warning,
        "error" => LogLevel.Error,
        "critical" => LogLevel.Critical,
        _ => LogLevel.Info,
    };
}
