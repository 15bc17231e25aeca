namespace Narwhal.Posix;

/// <summary>Syslog facility codes by name (syslog(3)'s LOG_* values), as Gunicorn accepts them.</summary>
internal static class SyslogFacilities
{
    public static readonly Dictionary<string, int> Codes = new()
    {
        ["auth"] = 4, ["authpriv"] = 10, ["cron"] = 9, ["daemon"] = 3, ["ftp"] = 11, ["kern"] = 0,
        ["lpr"] = 6, ["mail"] = 2, ["news"] = 7, ["security"] = 4, ["syslog"] = 5, ["user"] = 1, ["uucp"] = 8,
        ["local0"] = 16, ["local1"] = 17, ["local2"] = 18, ["local3"] = 19,
        ["local4"] = 20, ["local5"] = 21, ["local6"] = 22, ["local7"] = 23,
    };

    public static string[] Names => [.. Codes.Keys];
}
