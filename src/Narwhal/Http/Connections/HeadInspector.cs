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
        var framer = new Http1Framer(rules, verbatim.Add);
        var upgrade = new ProtocolSwitch(() =>
        {
            framer.SwitchProtocols();
            // Bytes held back as a head not yet whole go on now: the pump reads them again.
            transport.Input.CancelPendingRead();
        }, transport.Input.CancelPendingRead);
        context.Features.Set(upgrade);
        var pump = PumpAsync(transport.Input, rewritten.Writer, framer, upgrade);
        try
        {
            await next(context);
        }
        finally
        {
            context.Transport = transport;
            await rewritten.Reader.CompleteAsync();
            upgrade.End();
            await pump;
        }
    }

    private static async Task PumpAsync(PipeReader input, PipeWriter output, Http1Framer framer, ProtocolSwitch upgrade)
    {
        try
        {
            while (true)
            {
                var read = await input.ReadAsync();
                // A cancelled read ends the pump, unless it only re-reads bytes after a switch.
                if (read.IsCanceled && (!upgrade.Switched || upgrade.Finished)) break;
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

/// <summary>
/// A connection feature: the exchange calls <see cref="Switch"/> as it answers 101, so the head
/// inspector stops framing HTTP on a connection that no longer carries it, and <see cref="End"/>
/// when the new protocol's session is over.
/// </summary>
internal sealed class ProtocolSwitch(Action onSwitch, Action stopPump)
{
    private volatile bool _switched;
    private volatile bool _finished;

    public bool Switched => _switched;

    /// <summary>The connection is over: the pump stops at its next (cancelled) read.</summary>
    public bool Finished => _finished;

    /// <summary>
    /// Stops the pump, which completes the input Kestrel reads: Kestrel then ends the
    /// connection as when a client closes it, and the transport closes the socket with a FIN.
    /// An upgraded connection has no other way to end gracefully: Kestrel reads it until
    /// its input ends, and the connection's abort resets it.
    /// </summary>
    public void End()
    {
        _finished = true;
        stopPump();
    }

    public void Switch()
    {
        if (_switched) return;
        _switched = true;
        onSwitch();
    }
}
