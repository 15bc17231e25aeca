using Microsoft.AspNetCore.Connections;
using Narwhal.Logging;

namespace Narwhal.Http;

/// <summary>
/// worker_connections: the connections one worker holds at once, across all its binds. Past
/// the limit a new connection is answered 503 and closed at once, instead of Gunicorn's
/// silent wait in the backlog, so a load balancer can retry elsewhere. It runs innermost,
/// after TLS, so the 503 is readable; an HTTP/2 connection is simply closed.
/// </summary>
internal sealed class ConnectionLimit(int max)
{
    private int _open;
    private long _lastWarning;

    public Func<ConnectionDelegate, ConnectionDelegate> Middleware => next => async context =>
    {
        if (Interlocked.Increment(ref _open) > max)
        {
            try
            {
                WarnOccasionally();
                if (!TlsConnection.NegotiatedHttp2(context)) await RawResponse.SendAndCloseAsync(context, 503, "Service Unavailable");
            }
            finally
            {
                Interlocked.Decrement(ref _open);
            }
            return;
        }
        try
        {
            await next(context);
        }
        finally
        {
            Interlocked.Decrement(ref _open);
        }
    };

    private void WarnOccasionally()
    {
        var now = Environment.TickCount64;
        var last = Interlocked.Read(ref _lastWarning);
        if (now - last < 10_000 || Interlocked.CompareExchange(ref _lastWarning, now, last) != last) return;
        ErrorLog.Warning($"worker_connections ({max}) reached: new connections get 503 Service Unavailable");
    }
}
