using System.Text;

namespace Narwhal.Logging;

internal enum LogLevel { Debug = 10, Info = 20, Warning = 30, Error = 40, Critical = 50 }

/// <summary>
/// The error log, in Gunicorn's line shape so existing parsers and alerts keep working:
/// <c>[2026-11-23 10:00:00 +0000] [1234] [INFO] Booting worker with pid: 1234</c>.
/// </summary>
internal static class ErrorLog
{
    private static readonly object _lock = new();
    private static readonly Stream _out = Console.OpenStandardError();
    private static readonly int _pid = Environment.ProcessId;

    public static void Debug(string message) => Write(LogLevel.Debug, message);
    public static void Info(string message) => Write(LogLevel.Info, message);
    public static void Warning(string message) => Write(LogLevel.Warning, message);
    public static void Error(string message) => Write(LogLevel.Error, message);
    public static void Critical(string message) => Write(LogLevel.Critical, message);

    public static LogLevel Threshold { get; set; } = LogLevel.Info;

    public static void Write(LogLevel level, string message)
    {
        if (level < Threshold) return;
        var now = DateTimeOffset.Now;
        var offset = now.Offset;
        var sign = offset < TimeSpan.Zero ? '-' : '+';
        var line = $"[{now:yyyy-MM-dd HH:mm:ss} {sign}{Math.Abs(offset.Hours):00}{Math.Abs(offset.Minutes):00}] [{_pid}] [{Name(level)}] {message}\n";
        WriteRaw(line);
    }

    /// <summary>Text as it is (wsgi.errors, tracebacks already formatted).</summary>
    public static void WriteRaw(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        lock (_lock)
        {
            _out.Write(bytes);
            _out.Flush();
        }
    }

    private static string Name(LogLevel level) => level switch
    {
        LogLevel.Debug => "DEBUG",
        LogLevel.Info => "INFO",
        LogLevel.Warning => "WARNING",
        LogLevel.Error => "ERROR",
        _ => "CRITICAL",
    };
}
