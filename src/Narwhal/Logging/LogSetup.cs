using Narwhal.Posix;
using Narwhal.Settings;

namespace Narwhal.Logging;

/// <summary>
/// Points the error log, the access log, syslog and statsd where the settings say, in the
/// master and in each worker (each opens its own descriptors, appending). Run again on HUP;
/// <see cref="Reopen"/> is USR1.
/// </summary>
internal static class LogSetup
{
    private static Config? _config;

    /// <param name="ownerUid">The workers' user, who must be able to reopen the files (master only; -1 in workers).</param>
    public static void Apply(Config config, int ownerUid = -1, int ownerGid = -1)
    {
        _config = config;
        // A HUP runs this again: the files opened before are closed once the new ones are in place.
        var previousError = ErrorLog.File;
        var previousAccess = AccessLog.Current?.File;
        var errorPath = config.Get(LoggingSettings.ErrorLog);
        LogFile errorFile;
        try
        {
            errorFile = LogFile.Open(errorPath, 2);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException($"Invalid value for errorlog: cannot open '{errorPath}' for writing: {e.Message}");
        }
        if (ownerUid >= 0) errorFile.Chown(ownerUid, ownerGid);

        var syslog = config.Get(LoggingSettings.Syslog);
        var prefix = config.Get(LoggingSettings.SyslogPrefix) is { Length: > 0 } p ? p : ProcName.Of(config).Replace(':', '.');
        SyslogSink? sink = null;
        if (syslog)
        {
            try
            {
                sink = SyslogSink.Open(config.Get(LoggingSettings.SyslogAddr), config.Get(LoggingSettings.SyslogFacility));
            }
            catch (Exception e) when (e is System.Net.Sockets.SocketException or FormatException or ArgumentException)
            {
                throw new ConfigException($"Invalid value for syslog_addr: {e.Message}");
            }
        }
        ErrorLog.Configure(errorFile, ErrorLog.Parse(config.Get(LoggingSettings.LogLevel)), sink, $"gunicorn.{prefix}.error");
        previousError.Retire(errorFile);
        if (config.Get(LoggingSettings.CaptureOutput) && errorFile.IsFile) Capture(errorFile);

        var accessPath = config.Get(LoggingSettings.AccessLog);
        var accessToSyslog = syslog && !config.Get(LoggingSettings.DisableRedirectAccessToSyslog);
        if (accessPath.Length > 0 || accessToSyslog)
        {
            LogFile? accessFile = null;
            if (accessPath.Length > 0)
            {
                try
                {
                    accessFile = LogFile.Open(accessPath, 1);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw new ConfigException($"Invalid value for accesslog: cannot open '{accessPath}' for writing: {e.Message}");
                }
                if (ownerUid >= 0) accessFile.Chown(ownerUid, ownerGid);
            }
            IAccessLineFormat format = config.Get(LoggingSettings.AccessLogJson)
                ? new AccessJsonFormat(config.Get(LoggingSettings.AccessLogJsonFields))
                : new AccessFormat(config.Get(LoggingSettings.AccessLogFormat));
            AccessLog.Current = new AccessLog(format,
                accessFile, accessToSyslog ? sink : null, $"gunicorn.{prefix}.access");
        }
        else
        {
            AccessLog.Current = null;
        }
        previousAccess?.Retire(AccessLog.Current?.File);

        Statsd.Current = config.Get(LoggingSettings.StatsdHost) is { Length: > 0 } statsd
            ? Statsd.Open(statsd, config.Get(LoggingSettings.StatsdPrefix), config.Get(LoggingSettings.DogstatsdTags))
            : null;
        ErrorLog.Python = null;
        PythonLogging.Setup(config);
    }

    /// <summary>
    /// --capture-output: stdout and stderr (print(), C extensions) go to the error log file.
    /// The duplicates share the file's O_APPEND; Python's print() is made one write(2) per line.
    /// </summary>
    private static void Capture(LogFile file)
    {
        Console.Out.Flush();
        Console.Error.Flush();
        Unix.Dup2(file.Fd, 1);
        Unix.Dup2(file.Fd, 2);
        LineBufferedStdio.Want();
    }

    /// <summary>USR1: reopen every log file (after logrotate moved them).</summary>
    public static void Reopen()
    {
        ErrorLog.Reopen();
        AccessLog.Current?.Reopen();
        PythonLogging.Reopen();
        if (_config != null && _config.Get(LoggingSettings.CaptureOutput) && ErrorLog.File.IsFile) Capture(ErrorLog.File);
    }
}
