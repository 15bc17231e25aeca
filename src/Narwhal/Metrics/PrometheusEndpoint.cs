using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Narwhal.Logging;
using Narwhal.Settings;

namespace Narwhal.Metrics;

/// <summary>
/// --metrics-bind: the master serves <c>GET /metrics</c> in Prometheus' text format on its
/// own socket (never the app's): requests by status class, a latency histogram, requests in
/// flight, workers, worker restarts and --max-worker-rss replacements, summed over every worker this master ran. The
/// arbiter loop refreshes the page each tick; this thread only sends the latest one.
/// </summary>
internal sealed class PrometheusEndpoint : IDisposable
{
    private readonly Socket _listener;
    private readonly Thread _thread;
    private volatile string _page = "";
    private volatile bool _stopping;

    private PrometheusEndpoint(Socket listener)
    {
        _listener = listener;
        _thread = new Thread(Serve) { IsBackground = true, Name = "metrics" };
        _thread.Start();
    }

    public static PrometheusEndpoint Start(string address)
    {
        var bind = BindAddress.Parse(address);
        Socket socket;
        if (bind.Kind == BindKind.Unix)
        {
            if (File.Exists(bind.Path)) File.Delete(bind.Path!);
            socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            socket.Bind(new UnixDomainSocketEndPoint(bind.Path!));
        }
        else
        {
            var ip = IPAddress.TryParse(bind.Host, out var parsed) ? parsed : Dns.GetHostAddresses(bind.Host!).First();
            socket = new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            // SO_REUSEADDR alone (.NET's ReuseAddress adds SO_REUSEPORT on Linux: a port in use would be shared).
            socket.SetRawSocketOption(1 /* SOL_SOCKET */, 2 /* SO_REUSEADDR */, BitConverter.GetBytes(1));
            socket.Bind(new IPEndPoint(ip, bind.Port));
        }
        socket.Listen(64);
        return new PrometheusEndpoint(socket);
    }

    public void Update(MetricsSnapshot total, int workers, long restarts, long rssReplacements)
    {
        var sb = new StringBuilder(2048);
        sb.Append("# HELP narwhal_requests_total Requests answered, by status class.\n# TYPE narwhal_requests_total counter\n");
        for (var i = 0; i < total.Statuses.Length; i++)
            sb.Append(CultureInfo.InvariantCulture, $"narwhal_requests_total{{status=\"{i + 1}xx\"}} {total.Statuses[i]}\n");
        sb.Append("# HELP narwhal_request_duration_seconds Time from request headers to the end of the response.\n# TYPE narwhal_request_duration_seconds histogram\n");
        long cumulative = 0;
        for (var i = 0; i < total.Buckets.Length; i++)
        {
            cumulative += total.Buckets[i];
            var le = i < RequestMetrics.Bounds.Length ? RequestMetrics.Bounds[i].ToString(CultureInfo.InvariantCulture) : "+Inf";
            sb.Append(CultureInfo.InvariantCulture, $"narwhal_request_duration_seconds_bucket{{le=\"{le}\"}} {cumulative}\n");
        }
        sb.Append(CultureInfo.InvariantCulture, $"narwhal_request_duration_seconds_sum {(total.SumMicros / 1e6).ToString(CultureInfo.InvariantCulture)}\n");
        sb.Append(CultureInfo.InvariantCulture, $"narwhal_request_duration_seconds_count {cumulative}\n");
        sb.Append("# HELP narwhal_requests_in_flight Requests being handled now.\n# TYPE narwhal_requests_in_flight gauge\n");
        sb.Append(CultureInfo.InvariantCulture, $"narwhal_requests_in_flight {total.InFlight}\n");
        sb.Append("# HELP narwhal_workers Worker processes running.\n# TYPE narwhal_workers gauge\n");
        sb.Append(CultureInfo.InvariantCulture, $"narwhal_workers {workers}\n");
        sb.Append("# HELP narwhal_worker_restarts_total Worker processes that exited and were replaced or retired.\n# TYPE narwhal_worker_restarts_total counter\n");
        sb.Append(CultureInfo.InvariantCulture, $"narwhal_worker_restarts_total {restarts}\n");
        sb.Append("# HELP narwhal_worker_rss_replacements_total Workers replaced for staying above --max-worker-rss.\n# TYPE narwhal_worker_rss_replacements_total counter\n");
        sb.Append(CultureInfo.InvariantCulture, $"narwhal_worker_rss_replacements_total {rssReplacements}\n");
        _page = sb.ToString();
    }

    private void Serve()
    {
        while (!_stopping)
        {
            Socket client;
            try
            {
                client = _listener.Accept();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                if (_stopping) return;
                continue;
            }
            using (client)
            {
                try
                {
                    client.ReceiveTimeout = 2000;
                    client.SendTimeout = 2000;
                    var buffer = new byte[4096];
                    var n = client.Receive(buffer);
                    var requestLine = Encoding.ASCII.GetString(buffer, 0, Math.Max(0, n)).Split("\r\n")[0];
                    var parts = requestLine.Split(' ');
                    var ok = parts.Length == 3 && parts[0] is "GET" or "HEAD" && parts[1].Split('?')[0] == "/metrics";
                    var body = ok ? _page : "Not Found\n";
                    var bytes = Encoding.UTF8.GetBytes(body);
                    var head = $"HTTP/1.1 {(ok ? "200 OK" : "404 Not Found")}\r\nContent-Type: {(ok ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain")}\r\n" +
                               $"Content-Length: {bytes.Length}\r\nConnection: close\r\n\r\n";
                    client.Send(Encoding.ASCII.GetBytes(head));
                    if (parts.Length > 0 && parts[0] != "HEAD") client.Send(bytes);
                }
                catch (SocketException e)
                {
                    ErrorLog.Debug($"metrics client: {e.Message}");
                }
            }
        }
    }

    public void Dispose()
    {
        _stopping = true;
        _listener.Dispose();
    }
}
