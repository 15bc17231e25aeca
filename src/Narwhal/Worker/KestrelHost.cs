using System.Text;
using System.Net.Security;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Narwhal.Http;
using Narwhal.Supervision;

namespace Narwhal.Worker;

/// <summary>
/// Kestrel at its low level: a KestrelServer over the inherited sockets (<see cref="InheritedListeners"/>) running our
/// <see cref="WsgiHttpApplication"/> or <see cref="LoopHttpApplication"/>; no generic host, no middleware pipeline.
/// </summary>
internal sealed class KestrelHost : IAsyncDisposable
{
    private readonly KestrelServer _server;
    private readonly InheritedListeners _transport;
    private readonly ServiceProvider _services;

    private KestrelHost(KestrelServer server, InheritedListeners transport, ServiceProvider services)
    {
        _server = server;
        _transport = transport;
        _services = services;
    }

    public int OpenConnections => _transport.OpenConnections;

    /// <summary>Stops taking new connections; open ones keep being served.</summary>
    public void StopAccepting(bool takeBacklog) => _transport.StopAccepting(takeBacklog);

    /// <summary>A server over the listening sockets inherited from the master, by descriptor.</summary>
    public static KestrelHost Create(IReadOnlyList<int> listenerFds, int keepAliveSeconds, RequestRules rules,
        SslServerAuthenticationOptions? tls, HttpProtocols protocols, Http2Tuning http2, EdgeOptions edge, IAcceptGate gate,
        Logging.LogLevel kestrelLogLevel, AcceptShares? shares = null, int shareSlot = -1)
    {
        // DANGER: by default Kestrel also ends lines at a bare LF (RFC 9112 2.2 allows it). A
        // proxy in front that does not would frame the bytes differently: request smuggling.
        // Gunicorn refuses bare LF; so does Narwhal.
        AppContext.SetSwitch("Microsoft.AspNetCore.Server.Kestrel.DisableHttp1LineFeedTerminators", true);
        var services = new ServiceCollection().AddLogging().BuildServiceProvider();
        var loggerFactory = new LoggerFactory([new KestrelLogForwarder(kestrelLogLevel)]);
        var options = new KestrelServerOptions
        {
            ApplicationServices = services,
            AddServerHeader = false, // the response carries "Server: narwhal" instead (Gunicorn sends its own)
            AllowSynchronousIO = false,
            // Header values reach the app exactly as sent: with string reuse on, Kestrel
            // hands back the previous request's string for a value that differs only in
            // case ("Connection: Close" arrived as "close").
            DisableStringReuse = true,
            // PEP 3333: header values are latin-1 strings. Kestrel's default rejects bytes >= 0x80.
            RequestHeaderEncodingSelector = _ => Encoding.Latin1,
            ResponseHeaderEncodingSelector = _ => Encoding.Latin1,
        };
        var limits = options.Limits;
        var requestLimits = rules.Limits;
        // Gunicorn has no request body size limit; bodies stream to the app.
        limits.MaxRequestBodySize = null;
        limits.KeepAliveTimeout = TimeSpan.FromSeconds(Math.Max(keepAliveSeconds, 0));
        // Gunicorn's limit_request_fields; past it Kestrel answers 431.
        limits.MaxRequestHeaderCount = requestLimits.Fields;
        // Gunicorn bounds each field (limit_request_field_size), not their total: allow every
        // field its full size; RequestPolicy checks each one.
        limits.MaxRequestHeadersTotalSize = requestLimits.HeadersTotal;
        // Wider than limit_request_line, which RequestPolicy checks with Gunicorn's 400.
        limits.MaxRequestLineSize = RequestLimits.KestrelRequestLine;
        // Slow clients: they wait here, on Kestrel's I/O threads, never on a Python thread.
        limits.RequestHeadersTimeout = edge.HeaderTimeout;
        limits.MinRequestBodyDataRate = edge.BodyMinRate > 0 ? new MinDataRate(edge.BodyMinRate, TimeSpan.FromSeconds(5)) : null;
        limits.Http2.MaxStreamsPerConnection = http2.MaxStreams;
        limits.Http2.InitialStreamWindowSize = http2.InitialWindowSize;
        // The connection window must be at least each stream's.
        limits.Http2.InitialConnectionWindowSize = Math.Max(limits.Http2.InitialConnectionWindowSize, http2.InitialWindowSize);
        limits.Http2.MaxFrameSize = http2.MaxFrameSize;
        limits.Http2.MaxRequestHeaderFieldSize = http2.MaxHeaderListSize;

        // Connection middlewares, outermost first: the PROXY header comes before the TLS
        // handshake; the head inspector reads plaintext; the limit answers in plaintext HTTP.
        var limit = edge.WorkerConnections > 0 ? new ConnectionLimit(edge.WorkerConnections) : null;
        foreach (var fd in listenerFds)
            options.ListenHandle((ulong)fd, o =>
            {
                o.Protocols = protocols;
                if (edge.ProxyProtocol != ProxyProtocolMode.Off)
                    o.Use(next => new ProxyProtocolConnection(next, edge.ProxyProtocol, edge.ProxyAllowFrom, edge.HeaderTimeout).OnConnectionAsync);
                if (tls != null) o.Use(next => new TlsConnection(next, tls, TimeSpan.FromSeconds(10)).OnConnectionAsync);
                // Every HTTP/1 head, unless the bind is HTTP/2 only (h2c prior knowledge).
                if (protocols != HttpProtocols.Http2)
                    o.Use(next => new HeadInspector(next, rules).OnConnectionAsync);
                if (limit != null) o.Use(limit.Middleware);
            });

        var transport = new InheritedListeners(loggerFactory, gate, shares, shareSlot);
        var server = new KestrelServer(Options.Create(options), transport, loggerFactory);
        return new KestrelHost(server, transport, services);
    }

    public Task StartAsync(Microsoft.AspNetCore.Hosting.Server.IHttpApplication<KestrelExchange> app, CancellationToken token) => _server.StartAsync(app, token);

    /// <summary>Stops accepting, lets in-flight requests finish until the token fires, then closes connections.</summary>
    public Task StopAsync(CancellationToken token) => _server.StopAsync(token);

    public async ValueTask DisposeAsync()
    {
        _server.Dispose();
        _transport.Dispose();
        await _services.DisposeAsync();
    }
}
