using Microsoft.Extensions.Logging;
using Narwhal.Logging;
using MsLogLevel = Microsoft.Extensions.Logging.LogLevel;
using LogLevel = Narwhal.Logging.LogLevel;

namespace Narwhal.Worker;

/// <summary>
/// Kestrel's messages and the error log. Its errors always go there. Its routine messages
/// (about six per request at debug: connection accepted, started, FIN received...) only from
/// --kestrel-log-level on: with --log-level debug, users expect Gunicorn's debug lines, so the
/// few Kestrel events that are the moments Gunicorn logs become Gunicorn's words instead.
/// </summary>
internal sealed class KestrelLogForwarder(LogLevel shown) : ILoggerProvider, ILogger
{
    /// <summary>Kestrel's event for a moment Gunicorn's gthread worker logs at debug, and its line.</summary>
    private static readonly Dictionary<string, string> GunicornLines = new(StringComparer.Ordinal)
    {
        // The client closed its connection: Gunicorn's parser stops ("Closing connection. %s"
        // with an empty StopIteration, hence the trailing space).
        ["ConnectionReadFin"] = "Closing connection. ",
        ["ConnectionReset"] = "Ignoring connection reset",
    };

    // Connections the server closes after their response (debug logging only): their FIN is not logged.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> ClosedByServer = new();

    /// <summary>The server closes this connection after its response: Gunicorn logs no "Closing connection. " for it.</summary>
    public static void Closing(string connectionId)
    {
        // An entry whose FIN never comes (the server's close went first) is left: bounded here.
        if (ClosedByServer.Count > 4096) ClosedByServer.Clear();
        ClosedByServer[connectionId] = 0;
    }

    public ILogger CreateLogger(string categoryName) => this;
    public void Dispose() { }
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(MsLogLevel logLevel) =>
        logLevel != MsLogLevel.None && (Shown(logLevel) || (logLevel >= MsLogLevel.Debug && ErrorLog.Threshold == LogLevel.Debug));

    public void Log<TState>(MsLogLevel logLevel, EventId eventId, TState state, Exception? exception,
        Func<TState, Exception?, string> formatter)
    {
        if (logLevel == MsLogLevel.None) return;
        if (ErrorLog.Threshold == LogLevel.Debug && eventId.Name is { } name && GunicornLines.TryGetValue(name, out var line)
            && !(name == "ConnectionReadFin" && ClosedByServer.TryRemove(ConnectionId(state) ?? "", out _)))
            ErrorLog.Debug(line);
        if (!Shown(logLevel)) return;
        var message = formatter(state, exception);
        if (exception != null) message += "\n" + exception;
        ErrorLog.Write(Ours(logLevel), message);
    }

    private static string? ConnectionId<TState>(TState state)
    {
        if (state is IReadOnlyList<KeyValuePair<string, object?>> values)
            foreach (var (key, value) in values)
                if (key == "ConnectionId") return value as string;
        return null;
    }

    // Trace (HTTP/2 frame by frame) is never shown.
    private bool Shown(MsLogLevel logLevel) => logLevel >= MsLogLevel.Error || (logLevel >= MsLogLevel.Debug && Ours(logLevel) >= shown);

    private static LogLevel Ours(MsLogLevel logLevel) => logLevel switch
    {
        MsLogLevel.Critical => LogLevel.Critical,
        MsLogLevel.Error => LogLevel.Error,
        MsLogLevel.Warning => LogLevel.Warning,
        MsLogLevel.Information => LogLevel.Info,
        _ => LogLevel.Debug,
    };
}
