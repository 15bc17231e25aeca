using Microsoft.Extensions.Logging;
using Narwhal.Logging;
using MsLogLevel = Microsoft.Extensions.Logging.LogLevel;

namespace Narwhal.Worker;

/// <summary>
/// Sends Kestrel's own errors to the error log. Its routine messages (bad requests from
/// clients, connection resets) are Debug/Information and stay out, as they do in Gunicorn,
/// unless the log level is debug: then they explain why a connection ended.
/// </summary>
internal sealed class KestrelLogForwarder : ILoggerProvider, ILogger
{
    public ILogger CreateLogger(string categoryName) => this;
    public void Dispose() { }
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
    public bool IsEnabled(MsLogLevel logLevel) =>
        logLevel >= MsLogLevel.Error || (ErrorLog.Threshold == Logging.LogLevel.Debug && logLevel >= MsLogLevel.Debug);

    public void Log<TState>(MsLogLevel logLevel, EventId eventId, TState state, Exception? exception,
        Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel)) return;
        var message = formatter(state, exception);
        if (exception != null) message += "\n" + exception;
        ErrorLog.Write(logLevel switch
        {
            MsLogLevel.Critical => Logging.LogLevel.Critical,
            MsLogLevel.Error => Logging.LogLevel.Error,
            _ => Logging.LogLevel.Debug,
        }, message);
    }
}
