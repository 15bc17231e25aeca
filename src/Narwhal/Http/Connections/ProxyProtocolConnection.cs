using System.Net;
using Microsoft.AspNetCore.Connections;
using Narwhal.Logging;

namespace Narwhal.Http;

/// <summary>
/// proxy_protocol, as a Kestrel connection middleware ahead of TLS and HTTP: reads the
/// PROXY header a load balancer puts in front of the connection's first bytes and records
/// it as a connection feature (<see cref="ProxyProtocolHeader"/>). A connection without one
/// is served as it is, as in Gunicorn. A header from a peer outside proxy_allow_ips gets
/// Gunicorn's 403, a malformed one its 400 ("InvalidProxyLine"); neither reaches Kestrel.
/// Waiting for the header never occupies a Python thread.
/// </summary>
internal sealed class ProxyProtocolConnection(ConnectionDelegate next, ProxyProtocolMode mode, ProxyTrust allowFrom, TimeSpan headerTimeout)
{
    public async Task OnConnectionAsync(ConnectionContext context)
    {
        var input = context.Transport.Input;
        var outcome = ProxyProtocol.Outcome.NeedMore;
        var length = 0;
        ProxyProtocolHeader? header = null;
        using (var timeout = new CancellationTokenSource(headerTimeout))
        {
            try
            {
                while (outcome == ProxyProtocol.Outcome.NeedMore)
                {
                    var read = await input.ReadAsync(timeout.Token);
                    outcome = ProxyProtocol.TryRead(read.Buffer, mode, out length, out header);
                    if (outcome == ProxyProtocol.Outcome.NeedMore)
                    {
                        if (read.IsCompleted) return; // the client left before saying anything usable
                        input.AdvanceTo(read.Buffer.Start, read.Buffer.End);
                    }
                    else
                    {
                        // Consume the header only; what follows it is the HTTP Kestrel reads next.
                        input.AdvanceTo(outcome == ProxyProtocol.Outcome.Parsed ? read.Buffer.GetPosition(length) : read.Buffer.Start);
                    }
                }
            }
            catch (OperationCanceledException)
            {
                return; // no header and no request within the header timeout
            }
        }

        if (outcome != ProxyProtocol.Outcome.Absent)
        {
            var peer = (context.RemoteEndPoint as IPEndPoint)?.Address;
            if (!allowFrom.Trusts(peer))
            {
                ErrorLog.Debug($"PROXY header from {peer}, which is not in proxy_allow_ips: 403");
                await RawResponse.SendAndCloseAsync(context, 403, "Forbidden");
                return;
            }
            if (outcome == ProxyProtocol.Outcome.Invalid)
            {
                ErrorLog.Debug($"Invalid PROXY header from {peer}: 400");
                await RawResponse.SendAndCloseAsync(context, 400, "Bad Request");
                return;
            }
            if (header != null) context.Features.Set(header);
        }
        await next(context);
    }
}
