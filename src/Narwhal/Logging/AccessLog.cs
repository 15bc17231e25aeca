using System.Globalization;

namespace Narwhal.Logging;

/// <summary>
/// The access log: one line per answered request in --access-logformat (or JSON, --access-log-json), to --access-logfile
/// and/or syslog. Disabled (null <see cref="Current"/>) unless one of them is asked for, so a
/// server without an access log pays nothing per request.
/// </summary>
internal sealed class AccessLog(IAccessLineFormat format, LogFile? file, SyslogSink? syslog, string syslogTag)
{
    public static AccessLog? Current { get; set; }

    public IAccessLineFormat Format => format;

    public LogFile? File => file;

    public void Write(AccessRecord record)
    {
        string line;
        try
        {
            line = format.Format(record);
        }
        catch (Exception e) when (e is FormatException or InvalidCastException)
        {
            ErrorLog.Error($"Access log format failed: {e.Message}");
            return;
        }
        file?.Write(line + "\n");
        syslog?.Send(LogLevel.Info, syslogTag, line);
    }

    public void Reopen() => file?.Reopen();

    private static long _cachedSecond = -1;
    private static string _cachedNow = "";

    /// <summary>Apache Common Log Format date, <c>[23/Nov/2026:10:00:00 +0000]</c>, rebuilt once a second.</summary>
    public static string Now()
    {
        var now = DateTimeOffset.Now;
        var second = now.ToUnixTimeSeconds();
        if (second == Volatile.Read(ref _cachedSecond)) return _cachedNow;
        var offset = now.Offset;
        var sign = offset < TimeSpan.Zero ? '-' : '+';
        var text = "[" + now.ToString("dd/MMM/yyyy:HH:mm:ss", CultureInfo.InvariantCulture)
            + $" {sign}{Math.Abs(offset.Hours):00}{Math.Abs(offset.Minutes):00}]";
        _cachedNow = text;
        Volatile.Write(ref _cachedSecond, second);
        return text;
    }
}
