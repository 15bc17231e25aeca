using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Narwhal.Settings;

namespace Narwhal.Worker;

/// <summary>
/// Kestrel at its low level: a KestrelServer over the socket transport running our
/// <see cref="WsgiHttpApplication"/>; no generic host, no middleware pipeline.
/// </summary>
internal sealed class KestrelHost : IAsyncDisposable
{
    private readonly KestrelServer _server;
    private readonly ServiceProvider _services;

    private KestrelHost(KestrelServer server, ServiceProvider services)
    {
        _server = server;
        _services = services;
    }

    public static KestrelHost Create(IReadOnlyList<BindAddress> binds, int keepAliveSeconds)
    {
        var services = new ServiceCollection().AddLogging().BuildServiceProvider();
        var loggerFactory = new LoggerFactory([new KestrelLogForwarder()]);
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
        // Gunicorn has no request body size limit; bodies stream to the app.
        limits.MaxRequestBodySize = null;
        limits.KeepAliveTimeout = TimeSpan.FromSeconds(Math.Max(keepAliveSeconds, 0));
        // Matches Gunicorn's default limit_request_fields.
        limits.MaxRequestHeaderCount = 100;
        // Gunicorn bounds each field (limit_request_field_size 8190), not their total:
        // allow the 100 fields their full size.
        limits.MaxRequestHeadersTotalSize = 100 * (8190 + 2);

        foreach (var bind in binds) Listen(options, bind);

        var transport = new SocketTransportFactory(Options.Create(new SocketTransportOptions()), loggerFactory);
        var server = new KestrelServer(Options.Create(options), transport, loggerFactory);
        return new KestrelHost(server, services);
    }

    private static void Listen(KestrelServerOptions options, BindAddress bind)
    {
        Action<ListenOptions> http1 = o => o.Protocols = HttpProtocols.Http1;
        switch (bind.Kind)
        {
            case BindKind.Unix:
                RemoveStaleSocket(bind.Path);
                options.ListenUnixSocket(bind.Path, http1);
                break;
            case BindKind.Fd:
                options.ListenHandle((ulong)bind.Fd, http1);
                break;
            default:
                options.Listen(new IPEndPoint(Resolve(bind.Host), bind.Port), http1);
                break;
        }
    }

    /// <summary>Like Python's socket.bind: a name resolves to its first address, IPv4 first.</summary>
    private static IPAddress Resolve(string host)
    {
        if (IPAddress.TryParse(host, out var ip)) return ip;
        var addresses = Dns.GetHostAddresses(host);
        return addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork)
            ?? addresses.FirstOrDefault()
            ?? throw new SocketException((int)SocketError.HostNotFound);
    }

    /// <summary>
    /// A socket file left by a previous run would make bind fail; Gunicorn removes it too.
    /// A live socket is left alone (bind then reports it in use); a non-socket is an error.
    /// </summary>
    private static void RemoveStaleSocket(string path)
    {
        if (!File.Exists(path)) return;
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
        {
            File.Delete(path);
        }
        catch (SocketException)
        {
            throw new IOException($"'{path}' exists and is not a socket");
        }
    }

    public Task StartAsync(WsgiHttpApplication app, CancellationToken token) => _server.StartAsync(app, token);

    /// <summary>Stops accepting, lets in-flight requests finish until the token fires, then closes connections.</summary>
    public Task StopAsync(CancellationToken token) => _server.StopAsync(token);

    public async ValueTask DisposeAsync()
    {
        _server.Dispose();
        await _services.DisposeAsync();
    }
}
