using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;

namespace Narwhal.Http;

/// <summary>
/// Sees every HTTP/1 request head before Kestrel parses it, as a connection middleware: it
/// pumps the connection's bytes through the <see cref="Http1Framer"/>, which holds the rules
/// (request-line shape, Content-Length digits, Gunicorn's folding and header-space leniencies),
/// and hands Kestrel what the framer passes on. An HTTP/2 connection (ALPN h2) goes straight
/// through.
/// <para>It also records, head by head, the field values Kestrel changes before the app sees
/// them (<see cref="VerbatimFields"/>, a connection feature), so that they reach the app as sent.</para>
/// </summary>
internal sealed class HeadInspector(ConnectionDelegate next, RequestRules rules)
{
    public async Task OnConnectionAsync(ConnectionContext context)
    {
        if (TlsConnection.NegotiatedHttp2(context))
        {
            await next(context);
            return;
        }
        var transport = context.Transport;
        var rewritten = new Pipe(new PipeOptions(useSynchronizationContext: false));
        context.Transport = new DuplexPipe(rewritten.Reader, transport.Output);
        var verbatim = new VerbatimFields();
        context.Features.Set(verbatim);
        var pump = PumpAsync(transport.Input, rewritten.Writer, new Http1Framer(rules, verbatim.Add));
        try
        {
            await next(context);
        }
        finally
        {
            context.Transport = transport;
            await rewritten.Reader.CompleteAsync();
            transport.Input.CancelPendingRead();
            await pump;
        }
    }

    private static async Task PumpAsync(PipeReader input, PipeWriter output, Http1Framer framer)
    {
        try
        {
            while (true)
            {
                var read = await input.ReadAsync();
                if (read.IsCanceled) break;
                var buffer = read.Buffer;
                var consumed = framer.Process(buffer, read.IsCompleted, output);
                input.AdvanceTo(consumed, buffer.End);
                var flushed = await output.FlushAsync();
                if (flushed.IsCompleted || read.IsCompleted) break;
            }
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or OperationCanceledException or ConnectionResetException)
        {
            // The client or Kestrel went away; the connection is over either way.
        }
        finally
        {
            await output.CompleteAsync();
        }
    }
}
