using System.Net;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Primitives;
using Microsoft.Win32.SafeHandles;
namespace Narwhal.Http;

/// <summary>
/// An exchange over Kestrel's request features. The blocking members wait on Kestrel's
/// async APIs synchronously: their caller is a dedicated Python thread (not the thread pool)
/// that has released the GIL.
/// </summary>
internal sealed class KestrelExchange : Exchange
{
    private readonly IHttpRequestFeature _request;
    private readonly IHttpResponseFeature _response;
    private readonly IHttpResponseBodyFeature _body;
    private readonly IHttpConnectionFeature _connection;
    private readonly IFeatureCollection _features;
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly bool _bodyForbidden;
    private long? _declaredLength;
    private long _written;
    private long _counted;
    private long _unflushed;
    private bool _started;
    private bool _bodyFailed;

    // The client sent "Expect: 100-continue" with a body and holds the body back until the
    // 100 comes. Kestrel sends the 100 on the first read of the body (when none of it has
    // arrived), so nothing may read it before the app does (RFC 9110 10.1.1, PEP 3333).
    private readonly bool _awaitsContinue;
    private bool _bodyRequested;

    // Body bytes written without a flush (list bodies, file ranges) go out in batches of
    // this size: one hand-off to the socket's sender per batch rather than per chunk.
    private const int WriteThreshold = 256 * 1024;

    private readonly DrainSignal _drain;

    // The values of this request's head that Kestrel changed, as sent (HTTP/1 only).
    private readonly VerbatimFields.Head? _verbatim;

    private readonly long _startedAt = System.Diagnostics.Stopwatch.GetTimestamp();

    private readonly RequestRules _rules;

    public KestrelExchange(IFeatureCollection features, DrainSignal drain, RequestRules rules)
    {
        _drain = drain;
        _rules = rules;
        _features = features;
        _request = features.GetRequiredFeature<IHttpRequestFeature>();
        _response = features.GetRequiredFeature<IHttpResponseFeature>();
        _body = features.GetRequiredFeature<IHttpResponseBodyFeature>();
        _connection = features.GetRequiredFeature<IHttpConnectionFeature>();
        _bodyForbidden = HttpMethods.IsHead(_request.Method);
        // Created as Kestrel hands over the request it has just parsed: its head's record is the oldest.
        _verbatim = features.Get<VerbatimFields>()?.Take(_request.RawTarget);
        _awaitsContinue = ExpectsContinue(_request);
        if (_awaitsContinue && !HttpProtocol.IsHttp2(_request.Protocol) && !HttpProtocol.IsHttp3(_request.Protocol))
            _response.OnStarting(static state => ((KestrelExchange)state).CloseUnlessBodyRequested(), this);
    }

    /// <summary>Kestrel's own test for sending a 100 (HttpProtocol.ProduceContinueAsync), on a request with a body.</summary>
    private static bool ExpectsContinue(IHttpRequestFeature request)
    {
        if (request.Protocol == "HTTP/1.0") return false; // RFC 9110 10.1.1: ignored on HTTP/1.0, by Kestrel too
        var headers = request.Headers;
        var hasBody = headers.ContentLength > 0 || headers.TransferEncoding.Count > 0
            || HttpProtocol.IsHttp2(request.Protocol) || HttpProtocol.IsHttp3(request.Protocol);
        return hasBody && string.Equals(headers.Expect.FirstOrDefault(), "100-continue", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>
    /// The final response goes out and the app never asked for the body: no 100 was sent, and
    /// the client that waits for it will not send the body. Kestrel would keep the connection
    /// and read the next bytes as that body, so the client's next request (or a front-end's,
    /// for another user) would be cut up as body and as a request. The response says
    /// "Connection: close" and Kestrel closes after it, without reading (RFC 9110 10.1.1: the
    /// server says whether it closes or reads on). A client sending the body anyway sends it
    /// into a closed connection, where nothing parses it.
    /// </summary>
    private Task CloseUnlessBodyRequested()
    {
        if (!_bodyRequested) _response.Headers.Connection = "close";
        return Task.CompletedTask;
    }

    public Task Completion => _done.Task;

    /// <summary>Kestrel's id of the connection (its log events name it).</summary>
    public string ConnectionId => _connection.ConnectionId;

    /// <summary>The client asked to close after this request (HTTP/1.1 "Connection: close", HTTP/1.0 without keep-alive).</summary>
    public bool ClientAsksToClose
    {
        get
        {
            var connection = _request.Headers.Connection;
            bool Has(string token) => connection.Any(v => v != null && v.Split(',').Any(t => t.Trim().Equals(token, StringComparison.OrdinalIgnoreCase)));
            return _request.Protocol == "HTTP/1.0" ? !Has("keep-alive") : _request.Protocol == "HTTP/1.1" && Has("close");
        }
    }

    public IHttpRequestFeature Request => _request;

    /// <summary>Answers a request the policy refused, from the Kestrel thread, and closes the connection.</summary>
    public void Reject(int status)
    {
        _response.StatusCode = status;
        _response.Headers.ContentLength = 0;
        _response.Headers.Connection = "close";
    }

    /// <summary>Upper-cased with casefold_http_method, as Gunicorn hands it to the app and its log.</summary>
    public override string Method => _rules.CasefoldMethod ? _request.Method.ToUpperInvariant() : _request.Method;
    public override string RawTarget => _request.RawTarget;
    public override string Protocol => _request.Protocol;
    private string? _scheme;
    private bool _schemeConflict;

    /// <summary>The connection's scheme, or what a trusted front-end's secure_scheme_headers say.</summary>
    public override string Scheme
    {
        get
        {
            if (_scheme == null) ResolveScheme();
            return _scheme!;
        }
    }

    /// <summary>Two trusted scheme headers disagree (Gunicorn's InvalidSchemeHeaders): the request gets a 400.</summary>
    public bool SchemeHeadersConflict
    {
        get
        {
            if (_scheme == null) ResolveScheme();
            return _schemeConflict;
        }
    }

    private void ResolveScheme() =>
        _scheme = _rules.Forwarded.Scheme(_request.Headers, _connection.RemoteIpAddress, out _schemeConflict)
            ?? (_features.Get<ITlsConnectionFeature>() != null ? "https" : "http");
    public override IEnumerable<KeyValuePair<string, StringValues>> RequestHeaders =>
        _verbatim is { Verbatim: false } head ? head.Apply(_request.Headers) : _request.Headers;

    /// <summary>The client: the one a PROXY protocol header named, else the socket's peer.</summary>
    public override (string Address, int Port)? Remote =>
        _features.Get<ProxyProtocolHeader>() is { } h ? (h.ClientAddress, h.ClientPort)
        : _connection.RemoteIpAddress is { } ip ? (Format(ip), _connection.RemotePort) : null;

    public override (string Protocol, string Address, int Port)? Proxy =>
        _features.Get<ProxyProtocolHeader>() is { } h ? (h.Protocol, h.ProxyAddress, h.ProxyPort) : null;

    private bool? _trusted;

    /// <summary>Trust goes by the socket's peer (the proxy), never by what a PROXY header claims, as in Gunicorn.</summary>
    public override bool FromTrustedForwarder => _trusted ??= _rules.Forwarded.Trusts(_connection.RemoteIpAddress);

    public override (string Address, int Port)? Local =>
        _connection.LocalIpAddress is { } ip ? (Format(ip), _connection.LocalPort) : null;

    private static string Format(IPAddress ip) => (ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip).ToString();

    public override bool Started => _started;

    public override int ReadBody(Memory<byte> buffer)
    {
        _bodyRequested = true;
        try
        {
            var read = _request.Body.ReadAsync(buffer);
            var n = read.IsCompletedSuccessfully ? read.Result : read.AsTask().GetAwaiter().GetResult();
            if (n == 0 && !RequestPolicy.TrailersAllowed(_features.Get<IHttpRequestTrailersFeature>()))
            {
                _bodyFailed = true;
                throw new BodyReadException("Invalid request body: forbidden field in chunked trailers", null);
            }
            return n;
        }
        catch (BadHttpRequestException e)
        {
            _bodyFailed = true;
            throw new BodyReadException($"Invalid request body: {e.Message}", e);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
        {
            _bodyFailed = true;
            throw new ClientGoneException("client disconnected while sending the request body", e);
        }
    }

    /// <summary>
    /// Receives the body, up to <paramref name="limit"/> bytes, before the request takes a
    /// Python thread: a client sending a small body slowly then costs an I/O wait, not a
    /// thread. The bytes stay in Kestrel's pipe, where the app's reads find them. Returns
    /// the status to refuse the request with (a malformed or too slow body), or 0.
    /// </summary>
    public async Task<int> ReceiveBodyAsync(int limit)
    {
        // Reading would send the 100 Continue the client waits for: only the app's read may.
        if (_awaitsContinue) return 0;
        var request = _request.Headers;
        if (request.ContentLength is null or 0 && request.TransferEncoding.Count == 0
            && !HttpProtocol.IsHttp2(_request.Protocol) && !HttpProtocol.IsHttp3(_request.Protocol))
            return 0;
        if (_features.Get<IRequestBodyPipeFeature>()?.Reader is not { } reader) return 0;
        try
        {
            while (true)
            {
                var read = await reader.ReadAsync();
                var buffer = read.Buffer;
                // Nothing consumed: the app's reads get all of it. Examined stays where it is
                // (moving it back confuses HTTP/2 flow control); the app's first read returns
                // at once on a whole body, or with more bytes of a longer one.
                reader.AdvanceTo(buffer.Start, buffer.End);
                if (read.IsCompleted || buffer.Length >= limit)
                {
                    if (read.IsCompleted && !RequestPolicy.TrailersAllowed(_features.Get<IHttpRequestTrailersFeature>()))
                        return StatusCodes.Status400BadRequest;
                    return 0;
                }
            }
        }
        catch (BadHttpRequestException e)
        {
            return e.StatusCode;
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
        {
            Abort(); // the client left mid-body
            return -1;
        }
    }

    public override void Start(int status, string reason, List<KeyValuePair<string, string>> headers)
    {
        _response.StatusCode = status;
        if (reason.Length > 0) _response.ReasonPhrase = reason;
        var target = _response.Headers;
        foreach (var (name, value) in headers)
            target.Append(name, value);
        if (!target.ContainsKey("Server")) target.Server = "narwhal";
        if (_drain.On) target.Connection = "close";
        _declaredLength = target.ContentLength;
        _started = true;
    }

    public override void Write(ReadOnlySpan<byte> data)
    {
        if (!_headWritten && data.Length >= DirectWrite && _declaredLength != null) WriteHead();
        Append(data);
        if (_unflushed >= WriteThreshold) Flush();
    }

    public override bool FlushesOnWrite(int length) => _unflushed + length >= WriteThreshold;

    // Body bytes written before the head are held in Kestrel's own buffers and copied again
    // behind the head once it is written. From this size on, the head is written first.
    private const int DirectWrite = 16 * 1024;
    private bool _headWritten;

    /// <summary>
    /// Writes the head into the output (not sending it yet), so that the body is copied
    /// once, straight behind it. Only for a declared Content-Length: without one, Kestrel
    /// frames a body complete before the head is written with a Content-Length, otherwise chunked.
    /// </summary>
    private void WriteHead()
    {
        _headWritten = true;
        try
        {
            var start = _body.StartAsync();
            if (!start.IsCompletedSuccessfully) start.GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
            throw new ClientGoneException("client disconnected", e);
        }
    }

    public override void Append(ReadOnlySpan<byte> data)
    {
        // The access log counts the body as the app gave it, HEAD included, as Gunicorn does.
        _counted += _declaredLength is { } declared ? Math.Min(data.Length, Math.Max(0, declared - _counted)) : data.Length;
        if (_bodyForbidden || _response.StatusCode is 204 or 304) return;
        if (_declaredLength is { } limit)
        {
            // Gunicorn never writes past the Content-Length the app declared.
            var room = limit - _written;
            if (room <= 0) return;
            if (data.Length > room) data = data[..(int)room];
        }
        CopyToOutput(data);
        _written += data.Length;
        _unflushed += data.Length;
    }

    public override ValueTask FlushAsync()
    {
        _unflushed = 0;
        ValueTask<System.IO.Pipelines.FlushResult> flush;
        try
        {
            flush = _body.Writer.FlushAsync();
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
            return ValueTask.FromException(new ClientGoneException("client disconnected", e));
        }
        if (!flush.IsCompletedSuccessfully) return AwaitFlush(flush);
        var result = flush.Result;
        return result.IsCanceled || result.IsCompleted ? ValueTask.FromException(new ClientGoneException("client disconnected")) : default;
    }

    private static async ValueTask AwaitFlush(ValueTask<System.IO.Pipelines.FlushResult> flush)
    {
        System.IO.Pipelines.FlushResult result;
        try
        {
            result = await flush;
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
            throw new ClientGoneException("client disconnected", e);
        }
        if (result.IsCanceled || result.IsCompleted) throw new ClientGoneException("client disconnected");
    }

    public override long? DeclaredBodyLength => _request.Headers.ContentLength;

    public override bool HasBody =>
        _request.Headers.ContentLength > 0 || _request.Headers.TransferEncoding.Count > 0
        || (_request.Headers.ContentLength is null && (HttpProtocol.IsHttp2(_request.Protocol) || HttpProtocol.IsHttp3(_request.Protocol))
            && _features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody != false);

    public override ValueTask<int> ReadBodyAsync(Memory<byte> buffer)
    {
        _bodyRequested = true;
        ValueTask<int> read;
        try
        {
            read = _request.Body.ReadAsync(buffer);
        }
        catch (Exception e)
        {
            return ValueTask.FromException<int>(BodyFailure(e));
        }
        if (!read.IsCompletedSuccessfully) return AwaitRead(read);
        var n = read.Result;
        return n == 0 && !TrailersAllowed() ? ValueTask.FromException<int>(ForbiddenTrailers()) : new ValueTask<int>(n);
    }

    private async ValueTask<int> AwaitRead(ValueTask<int> read)
    {
        int n;
        try
        {
            n = await read;
        }
        catch (Exception e)
        {
            throw BodyFailure(e);
        }
        return n == 0 && !TrailersAllowed() ? throw ForbiddenTrailers() : n;
    }

    private bool TrailersAllowed() => RequestPolicy.TrailersAllowed(_features.Get<IHttpRequestTrailersFeature>());

    private BodyReadException ForbiddenTrailers()
    {
        _bodyFailed = true;
        return new BodyReadException("Invalid request body: forbidden field in chunked trailers", null);
    }

    /// <summary>What a failed body read means to the app: a malformed body, or a client that left.</summary>
    private Exception BodyFailure(Exception e)
    {
        _bodyFailed = true;
        return e switch
        {
            BadHttpRequestException bad => new BodyReadException($"Invalid request body: {bad.Message}", bad),
            IOException or OperationCanceledException or ObjectDisposedException or ConnectionAbortedException =>
                new ClientGoneException("client disconnected while sending the request body", e),
            _ => e,
        };
    }

    /// <summary>
    /// On HTTP/1 the connection's own token, made once per connection: RequestAborted makes a
    /// CancellationTokenSource per request. An HTTP/2 stream can end alone, so it has its own.
    /// </summary>
    public override CancellationToken ClientGone =>
        !HttpProtocol.IsHttp2(_request.Protocol) && !HttpProtocol.IsHttp3(_request.Protocol)
            && _features.Get<Microsoft.AspNetCore.Connections.Features.IConnectionLifetimeFeature>() is { } connection
            ? connection.ConnectionClosed
            : _features.Get<IHttpRequestLifetimeFeature>()?.RequestAborted ?? CancellationToken.None;

    public override bool IsWebSocketRequest =>
        _features.Get<IHttpUpgradeFeature>() is { IsUpgradableRequest: true }
        && HttpMethods.IsGet(_request.Method)
        && _request.Headers.Upgrade.Any(v => v != null && v.Contains("websocket", StringComparison.OrdinalIgnoreCase))
        && _request.Headers.SecWebSocketKey.Count == 1
        && _request.Headers.SecWebSocketVersion == "13";

    public override async Task<System.Net.WebSockets.WebSocket> AcceptWebSocketAsync(string? subprotocol,
        IReadOnlyList<KeyValuePair<string, string>> headers, System.Net.WebSockets.WebSocketCreationOptions options)
    {
        var upgrade = _features.GetRequiredFeature<IHttpUpgradeFeature>();
        var target = _response.Headers;
        foreach (var (name, value) in headers) target.Append(name, value);
        if (!target.ContainsKey("Server")) target.Server = "narwhal";
        target.Upgrade = "websocket";
        target.SecWebSocketAccept = WebSocketAccept(_request.Headers.SecWebSocketKey.ToString());
        if (subprotocol != null) target.SecWebSocketProtocol = subprotocol;
        _started = true;
        // The head inspector stops framing HTTP before the client can see the 101.
        _features.Get<ProtocolSwitch>()?.Switch();
        // Kestrel sets 101 and Connection: Upgrade, sends the head and hands over the connection.
        var stream = await upgrade.UpgradeAsync();
        options.IsServer = true;
        options.SubProtocol = subprotocol;
        // The socket's end (its close, its keep-alive timeout, an abort) is the connection's.
        System.Net.WebSockets.WebSocket? socket = null;
        socket = System.Net.WebSockets.WebSocket.CreateFromStream(new UpgradedStream(stream, () => EndUpgraded(socket)), options);
        return socket;
    }

    /// <summary>
    /// After the closing handshake the client has read our close frame: a FIN ends the
    /// connection (RFC 6455 7.1.1, the server closes TCP first). A session that failed (a ping
    /// unanswered, a close not answered, an abort) is reset: its peer may not be reading, and
    /// a graceful close would wait on it.
    /// </summary>
    private void EndUpgraded(System.Net.WebSockets.WebSocket? socket)
    {
        if (socket?.State == System.Net.WebSockets.WebSocketState.Closed && _features.Get<ProtocolSwitch>() is { } upgrade)
            upgrade.End();
        else
            AbortConnection();
    }

    /// <summary>RFC 6455 4.2.2: base64(SHA-1(key + GUID)).</summary>
    private static string WebSocketAccept(string key) =>
        Convert.ToBase64String(System.Security.Cryptography.SHA1.HashData(
            Encoding.ASCII.GetBytes(key.Trim() + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));

    /// <summary>
    /// Copies into Kestrel's output buffers. Always with a size hint: before the response
    /// starts, Kestrel's writer may answer GetSpan() without one with an empty span.
    /// </summary>
    private void CopyToOutput(ReadOnlySpan<byte> data)
    {
        var writer = _body.Writer;
        while (data.Length > 0)
        {
            var span = writer.GetSpan(Math.Min(data.Length, 16 * 1024));
            var n = Math.Min(span.Length, data.Length);
            data[..n].CopyTo(span);
            writer.Advance(n);
            data = data[n..];
        }
    }

    public override void Flush()
    {
        _unflushed = 0;
        var flush = _body.Writer.FlushAsync();
        var result = flush.IsCompletedSuccessfully ? flush.Result : Wait(flush);
        if (result.IsCanceled || result.IsCompleted)
            throw new ClientGoneException("client disconnected");
    }

    // One per Python thread: the event a blocked flush waits on.
    [ThreadStatic] private static ManualResetEventSlim? _flushed;

    /// <summary>
    /// Blocks until a flush Kestrel could not finish at once is done (the client reads slower
    /// than the app writes). Not with Task.Wait: it spins before it sleeps, on the core the
    /// socket's sender needs to make the progress it waits for.
    /// </summary>
    private static System.IO.Pipelines.FlushResult Wait(ValueTask<System.IO.Pipelines.FlushResult> flush)
    {
        try
        {
            var awaiter = flush.ConfigureAwait(false).GetAwaiter();
            if (!awaiter.IsCompleted)
            {
                var flushed = _flushed ??= new ManualResetEventSlim(false, spinCount: 0);
                flushed.Reset();
                awaiter.UnsafeOnCompleted(flushed.Set);
                flushed.Wait();
            }
            return awaiter.GetResult();
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
            throw new ClientGoneException("client disconnected", e);
        }
    }

    public override long SendFile(SafeFileHandle file, long offset, long count)
    {
        if (_declaredLength is { } limit) count = Math.Min(count, limit - _written);
        if (_declaredLength is null && !_bodyForbidden)
            _response.Headers.ContentLength = _declaredLength = count;
        if (_bodyForbidden || count <= 0) return 0;
        if (!_headWritten) WriteHead(); // sent with the first batch

        // The file is read straight into Kestrel's output buffers, without Python and
        // without an intermediate copy, and pushed out a batch at a time: the flush waits
        // when the client is slower than the disk, so memory stays bounded.
        long sent = 0;
        var writer = _body.Writer;
        while (sent < count)
        {
            var memory = writer.GetMemory(64 * 1024);
            var want = (int)Math.Min(memory.Length, count - sent);
            var n = RandomAccess.Read(file, memory.Span[..want], offset + sent);
            if (n <= 0) break; // the file shrank: Kestrel closes the connection short of Content-Length
            writer.Advance(n);
            sent += n;
            _written += n;
            _counted += n;
            _unflushed += n;
            if (_unflushed >= WriteThreshold) Flush();
        }
        // The last batch goes out as the request ends, on Kestrel's side: the Python thread
        // moves on to its next request meanwhile.
        return sent;
    }

    private ExchangeOutcome _outcome;

    public override void Complete(ExchangeOutcome outcome)
    {
        _outcome = outcome;
        _done.TrySetResult();
    }

    /// <summary>
    /// Runs <paramref name="action"/> once the response is sent, with whether it ended the
    /// connection (Connection: close, from the app, the drain or Kestrel: Kestrel adds its own
    /// only as it writes the head, which can be after the app is done).
    /// </summary>
    public void OnSent(Action<bool> action) => _response.OnCompleted(_ =>
    {
        action(_response.Headers.Connection.Any(v => v != null &&
            v.Split(',').Any(t => t.Trim().Equals("close", StringComparison.OrdinalIgnoreCase))));
        return Task.CompletedTask;
    }, this);

    /// <summary>Finishes the response on a Kestrel thread once Python is done with it.</summary>
    public async Task FinishAsync()
    {
        // A client waiting for a 100 the app never asked for sends no body: reading it would
        // send that 100 now, before the final response. Kestrel ends the stream without it.
        if (!_bodyFailed && _outcome != ExchangeOutcome.Abort && HttpProtocol.IsHttp2(_request.Protocol)
            && !(_awaitsContinue && !_bodyRequested))
            await DrainUnreadBodyAsync();
        if (_bodyFailed || _outcome == ExchangeOutcome.Abort)
        {
            // Bad body framing or a failure after the headers went out: close without more
            // bytes, so the client cannot mistake a partial response for a whole one.
            Abort();
        }
        else if (_outcome == ExchangeOutcome.Fail && !_started)
        {
            WriteInternalServerError();
        }
        else if (_declaredLength is { } length && _written < length && !_bodyForbidden && _response.StatusCode is not (204 or 304))
        {
            // The body fell short of its Content-Length. As Gunicorn does, send what there
            // is and close: once the response has started, Kestrel itself ends the connection
            // after sending it (an Abort here could reset it before the bytes leave; and
            // unflushed, Kestrel would turn the short response into a 500).
            try { await _body.Writer.FlushAsync(); }
            catch (Exception e) when (e is IOException or OperationCanceledException or InvalidOperationException) { Abort(); }
        }
    }

    // What the server reads and discards of a request body the app left unread on HTTP/2.
    private const int MaxDrain = 1024 * 1024;

    /// <summary>
    /// On HTTP/2 the client cannot finish sending a body the app never read (flow control
    /// stalls it) and the stream never ends; Kestrel drains such bodies only on HTTP/1.1.
    /// What is left of the body is read, up to 1 MiB and 5 s, as Gunicorn reads the rest of
    /// a body; past that the stream is reset and the client sees an error for that request.
    /// </summary>
    private async Task DrainUnreadBodyAsync()
    {
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            long drained = 0;
            int n;
            while ((n = await _request.Body.ReadAsync(buffer, timeout.Token)) > 0)
                if ((drained += n) > MaxDrain) { Abort(); return; }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or BadHttpRequestException or ObjectDisposedException)
        {
            Abort();
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>What the access log, statsd and Prometheus know of the answered request.</summary>
    public Logging.AccessRecord Record() => new()
    {
        RemoteAddr = Remote?.Address ?? "",
        Method = Method,
        RawUri = _request.RawTarget,
        Protocol = _request.Protocol,
        Status = _response.StatusCode,
        // Gunicorn counts only what the app sent: its own 500 page is logged with 0 bytes.
        Sent = _counted,
        Duration = System.Diagnostics.Stopwatch.GetElapsedTime(_startedAt),
        RequestHeaders = RequestHeaders,
        ResponseHeaders = _response.Headers,
        Environ = EnvironAtoms,
        ServerError = _outcome == ExchangeOutcome.Fail && !_started,
    };

    private void Abort() => _features.Get<IHttpRequestLifetimeFeature>()?.Abort();

    /// <summary>The connection itself: after an upgrade, Kestrel's request-level abort no longer ends it.</summary>
    private void AbortConnection()
    {
        if (_features.Get<Microsoft.AspNetCore.Connections.Features.IConnectionLifetimeFeature>() is { } connection) connection.Abort();
        else Abort();
    }

    // Matches the body Gunicorn's handle_error sends for an unhandled app error.
    private static readonly byte[] ServerErrorBody = Encoding.ASCII.GetBytes(
        "<html>\n  <head>\n    <title>Internal Server Error</title>\n  </head>\n  <body>\n" +
        "    <h1><p>Internal Server Error</p></h1>\n    \n  </body>\n</html>\n");

    private void WriteInternalServerError()
    {
        try
        {
            _response.StatusCode = 500;
            _response.ReasonPhrase = null;
            _response.Headers.Clear();
            _response.Headers.ContentType = "text/html";
            _response.Headers.ContentLength = ServerErrorBody.Length;
            _response.Headers.Connection = "close";
            CopyToOutput(ServerErrorBody);
        }
        catch (InvalidOperationException)
        {
            Abort();
        }
    }
}
