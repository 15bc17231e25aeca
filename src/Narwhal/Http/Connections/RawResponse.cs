using System.Text;
using Microsoft.AspNetCore.Connections;

namespace Narwhal.Http;

/// <summary>
/// A complete HTTP/1.1 error response written straight to a connection, for the refusals
/// made before Kestrel parses anything (a bad PROXY header, a worker at worker_connections).
/// </summary>
internal static class RawResponse
{
    public static async Task SendAndCloseAsync(ConnectionContext context, int status, string reason, string? body = null)
    {
        body ??= reason + "\n";
        var text = $"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: {body.Length}\r\n\r\n{body}";
        try
        {
            await context.Transport.Output.WriteAsync(Encoding.ASCII.GetBytes(text));
            await context.Transport.Output.CompleteAsync();
            // Read what the client still sends for a moment: closing with unread bytes in the
            // socket makes the kernel answer with a reset, which can destroy the response.
            using var linger = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            while (true)
            {
                var read = await context.Transport.Input.ReadAsync(linger.Token);
                context.Transport.Input.AdvanceTo(read.Buffer.End);
                if (read.IsCompleted) break;
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or InvalidOperationException)
        {
            // The client left or kept talking: either way the connection ends here.
        }
    }
}
