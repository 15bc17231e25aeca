using System.Buffers;
using System.Net.WebSockets;
using Narwhal.Http;

namespace Narwhal.Loop;

/// <summary>
/// One request (or WebSocket) as the ASGI bridge holds it on the C# side: its exchange, the
/// body read and flush under way, the WebSocket once accepted. Each operation starts on the
/// loop thread; one that cannot finish at once completes on a thread-pool thread, which only
/// posts an event to the loop: no thread other than the loop's touches Python.
/// </summary>
internal sealed class LoopCycle(Exchange exchange, LoopInbox inbox, bool webSocket)
{
    private const int ReadSize = 64 * 1024;

    public Exchange Exchange { get; } = exchange;
    public bool IsWebSocket { get; } = webSocket;

    /// <summary>The id Python holds; set by the loop when it takes the request.</summary>
    public long Id { get; set; }

    private byte[]? _buffer;
    private long _bodyRead;
    // 1 while a read into _buffer is under way: the buffer goes back to the pool only when none is.
    private int _reading;
    private CancellationTokenRegistration _gone;

    // Set by a completed asynchronous read, for the loop to take with the BodyRead event.
    public int PendingRead { get; private set; }
    public bool PendingReadFailed { get; private set; }

    public ReadOnlySpan<byte> Buffered(int n) => _buffer.AsSpan(0, n);

    /// <summary>Loop thread: posts <see cref="LoopEventKind.Disconnected"/> when the client goes.</summary>
    public void WatchDisconnect() =>
        _gone = Exchange.ClientGone.UnsafeRegister(static s => ((LoopCycle)s!).Post(LoopEventKind.Disconnected), this);

    private void Post(LoopEventKind kind, object? payload = null, int code = 0) => inbox.Post(new(kind, this, payload, code));

    /// <summary>Whether more body may follow <paramref name="n"/> bytes just read (known without another read when Content-Length says).</summary>
    public bool MoreBody(int n) => n > 0 && !(Exchange.DeclaredBodyLength is { } length && _bodyRead >= length);

    /// <summary>
    /// Loop thread: reads what the body has now. True with the count when the read finished
    /// at once (0: the end); false when it waits, and a <see cref="LoopEventKind.BodyRead"/>
    /// follows. Throws what the exchange throws for a bad body or a client gone.
    /// </summary>
    public bool TryRead(out int n)
    {
        _buffer ??= ArrayPool<byte>.Shared.Rent(ReadSize);
        var read = Exchange.ReadBodyAsync(_buffer.AsMemory(0, ReadSize));
        if (read.IsCompleted)
        {
            n = read.GetAwaiter().GetResult();
            _bodyRead += n;
            return true;
        }
        n = 0;
        Volatile.Write(ref _reading, 1);
        _ = ReadLater(read);
        return false;
    }

    private async Task ReadLater(ValueTask<int> read)
    {
        try
        {
            PendingRead = await read;
            _bodyRead += PendingRead;
            PendingReadFailed = false;
        }
        catch (Exception)
        {
            PendingRead = 0;
            PendingReadFailed = true;
        }
        Volatile.Write(ref _reading, 0);
        Post(LoopEventKind.BodyRead);
    }

    /// <summary>
    /// Loop thread: sends what was appended. True when the flush finished at once; false when
    /// it waits, and a <see cref="LoopEventKind.Flushed"/> follows (Code 1: done, 0: the client left).
    /// </summary>
    public bool TryFlush()
    {
        var flush = Exchange.FlushAsync();
        if (flush.IsCompleted)
        {
            flush.GetAwaiter().GetResult();
            return true;
        }
        _ = FlushLater(flush);
        return false;
    }

    private async Task FlushLater(ValueTask flush)
    {
        var ok = 1;
        try { await flush; }
        catch (Exception) { ok = 0; }
        Post(LoopEventKind.Flushed, code: ok);
    }

    /// <summary>
    /// Loop thread: copies a file range to the client on a thread-pool thread (the green
    /// workers' wsgi.file_wrapper); <see cref="LoopEventKind.FileSent"/> follows with the bytes
    /// sent, or -1. The caller keeps the file open until then.
    /// </summary>
    public void SendFile(Microsoft.Win32.SafeHandles.SafeFileHandle file, long offset, long count)
    {
        _ = Task.Run(() =>
        {
            long sent;
            try { sent = Exchange.SendFile(file, offset, count); }
            catch (Exception) { sent = -1; }
            finally { file.Dispose(); }
            Post(LoopEventKind.FileSent, sent);
        });
    }

    // ---- WebSocket ----

    public WebSocket? Socket { get; private set; }
    private readonly SemaphoreSlim _sends = new(1, 1);
    private int _closeSent;

    /// <summary>Loop thread: answers the handshake; <see cref="LoopEventKind.Accepted"/> follows (Code 1 accepted, 0 failed).</summary>
    public void Accept(string? subprotocol, List<KeyValuePair<string, string>> headers, WebSocketLimits options, Action<LoopCycle> opened)
    {
        _ = AcceptLater(subprotocol, headers, options, opened);
    }

    private async Task AcceptLater(string? subprotocol, List<KeyValuePair<string, string>> headers, WebSocketLimits options, Action<LoopCycle> opened)
    {
        try
        {
            Socket = await Exchange.AcceptWebSocketAsync(subprotocol, headers, new WebSocketCreationOptions
            {
                KeepAliveInterval = options.PingInterval,
                KeepAliveTimeout = options.PingTimeout,
            });
        }
        catch (Exception)
        {
            Post(LoopEventKind.Accepted, code: 0);
            return;
        }
        opened(this);
        Post(LoopEventKind.Accepted, code: 1);
        _ = ReceiveLoop(Socket, options.MaxMessage);
    }

    /// <summary>Posts each whole message (string or byte[]) and, last, <see cref="LoopEventKind.Closed"/> with the code.</summary>
    private async Task ReceiveLoop(WebSocket socket, int maxMessage)
    {
        var chunk = new byte[16 * 1024];
        var message = new ArrayBufferWriter<byte>();
        try
        {
            while (true)
            {
                var r = await socket.ReceiveAsync(chunk.AsMemory(), CancellationToken.None);
                if (r.MessageType == WebSocketMessageType.Close)
                {
                    var code = (int?)socket.CloseStatus ?? 1005;
                    // Answer the client's close unless the app's went first (RFC 6455 5.5.1).
                    if (Interlocked.Exchange(ref _closeSent, 1) == 0)
                        await SendCloseAsync(socket, socket.CloseStatus ?? WebSocketCloseStatus.NormalClosure, "");
                    Post(LoopEventKind.Closed, code: code);
                    return;
                }
                if (message.WrittenCount + r.Count > maxMessage)
                {
                    await CloseAsync((int)WebSocketCloseStatus.MessageTooBig, "message too big");
                    Post(LoopEventKind.Closed, code: (int)WebSocketCloseStatus.MessageTooBig);
                    return;
                }
                message.Write(chunk.AsSpan(0, r.Count));
                if (!r.EndOfMessage) continue;
                object payload = r.MessageType == WebSocketMessageType.Text
                    ? System.Text.Encoding.UTF8.GetString(message.WrittenSpan) : message.WrittenSpan.ToArray();
                message.ResetWrittenCount();
                Post(LoopEventKind.Message, payload);
            }
        }
        catch (Exception)
        {
            // The connection dropped without a close frame.
            Post(LoopEventKind.Closed, code: 1006);
        }
    }

    /// <summary>Loop thread: sends one message. True when sent at once; else <see cref="LoopEventKind.Flushed"/> follows.</summary>
    public bool TrySend(byte[] data, bool text)
    {
        if (Socket is not { } socket) throw new ClientGoneException("the WebSocket is not open");
        if (_sends.Wait(0))
        {
            ValueTask send;
            try
            {
                send = socket.SendAsync(data.AsMemory(), text ? WebSocketMessageType.Text : WebSocketMessageType.Binary, true, CancellationToken.None);
            }
            catch (Exception e) when (e is WebSocketException or ObjectDisposedException or InvalidOperationException or IOException)
            {
                _sends.Release();
                throw new ClientGoneException("the WebSocket is closed", e);
            }
            if (send.IsCompletedSuccessfully)
            {
                _sends.Release();
                return true;
            }
            _ = SendLater(send);
            return false;
        }
        _ = SendQueued(socket, data, text);
        return false;
    }

    private async Task SendLater(ValueTask send)
    {
        var ok = 1;
        try { await send; }
        catch (Exception) { ok = 0; }
        finally { _sends.Release(); }
        Post(LoopEventKind.Flushed, code: ok);
    }

    private async Task SendQueued(WebSocket socket, byte[] data, bool text)
    {
        await _sends.WaitAsync();
        await SendLater(socket.SendAsync(data.AsMemory(), text ? WebSocketMessageType.Text : WebSocketMessageType.Binary, true, CancellationToken.None));
    }

    /// <summary>Sends the close frame once (from the app, the server's shutdown or an oversized message); the client's reply ends the receive loop.</summary>
    public async Task CloseAsync(int code, string reason)
    {
        if (Socket is not { } socket || Interlocked.Exchange(ref _closeSent, 1) != 0) return;
        await _sends.WaitAsync();
        try
        {
            await SendCloseAsync(socket, (WebSocketCloseStatus)code, reason);
        }
        finally
        {
            _sends.Release();
        }
    }

    private static async Task SendCloseAsync(WebSocket socket, WebSocketCloseStatus code, string reason)
    {
        try
        {
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            // A close without a status (1005) is answered with one without a status, which carries no reason.
            await socket.CloseOutputAsync(code, code == WebSocketCloseStatus.Empty ? null : reason, limit.Token);
        }
        catch (Exception)
        {
            // Gone already: nothing to tell it.
        }
    }

    /// <summary>
    /// Kestrel thread, after the app's task ended: a WebSocket still open is closed (1000 if
    /// the app just returned, 1011 if it failed) and given a moment for the client's reply.
    /// </summary>
    public async Task FinishWebSocketAsync(ExchangeOutcome outcome)
    {
        if (Socket is not { } socket) return;
        if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            await CloseAsync(outcome == ExchangeOutcome.Done ? 1000 : 1011, "");
        var waited = 0;
        while (socket.State == WebSocketState.CloseSent && waited < 1000)
        {
            await Task.Delay(20);
            waited += 20;
        }
        // Disposing the socket ends the connection: Kestrel would go on reading it until the client closes it.
        socket.Abort();
        socket.Dispose();
    }

    /// <summary>Loop thread: the app is done with this cycle.</summary>
    public void Complete(ExchangeOutcome outcome)
    {
        _gone.Dispose();
        // A read still under way writes into the buffer later: it is left to the GC then.
        if (_buffer != null && Volatile.Read(ref _reading) == 0) ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = null;
        Outcome = outcome;
        Exchange.Complete(outcome);
    }

    public ExchangeOutcome Outcome { get; private set; }
}

/// <summary>The WebSocket settings a cycle's accept applies.</summary>
internal sealed record WebSocketLimits(int MaxMessage, TimeSpan PingInterval, TimeSpan PingTimeout);
