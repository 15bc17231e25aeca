using Microsoft.Extensions.Logging;
using Narwhal.Logging;
using MsLogLevel = Microsoft.Extensions.Logging.LogLevel;

namespace Narwhal.Worker;

/// <summary>
/// Sends Kestrel's own errors to the error log. Its routine messages (bad requests from
/// clients, connection resets) are Debug/Information and stay out, as they do in Gunicorn.
/// </summary>
internal sealed class KestrelLogForwarder : ILoggerProvider, ILogger
{
    public ILogger CreateLogger(string categoryName) => this;
    public void Dispose() { }
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
    public bool IsEnabled(MsLogLevel logLevel) => logLevel >= MsLogLevel.Error;

    public void Log<TState>(MsLogLevel logLevel, EventId eventId, TState state, Exception? exception,
        Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel)) return;
        var message = formatter(state, exception);
        if (exception != null) message += "\n" + exception;
        ErrorLog.Write(logLevel == MsLogLevel.Critical ? Logging.LogLevel.Critical : Logging.LogLevel.Error, message);
    }
}
