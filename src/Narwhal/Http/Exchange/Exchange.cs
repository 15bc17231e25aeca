using Microsoft.Extensions.Primitives;
using Microsoft.Win32.SafeHandles;

namespace Narwhal.Http;

/// <summary>How the protocol adapter (WSGI, ASGI) ended an exchange.</summary>
internal enum ExchangeOutcome
{
    /// <summary>The response is complete as the app gave it.</summary>
    Done = 0,
    /// <summary>The response had started when it failed: close without more bytes.</summary>
    Abort = 1,
    /// <summary>The app failed before starting a response: the server answers 500.</summary>
    Fail = 2,
}

/// <summary>
/// One request/response as a protocol adapter (Wsgi/, Asgi/) sees it: the request's view
/// (head, peer, trusted scheme), a body reader, a response writer that owns framing,
/// flushing and sendfile, and the completion that hands the exchange back to the HTTP edge.
/// The edge implements it over Kestrel (<see cref="KestrelExchange"/>); no adapter sees
/// Kestrel. Blocking members are for a Python thread that has released the GIL; the
/// *Async ones for an event loop's thread.
/// </summary>
internal abstract class Exchange
{
    /// <summary>Id handed to Python (wsgi.input, start_response, an ASGI cycle); 0 once the request is over.</summary>
    public long Id { get; set; }

    public abstract string Method { get; }
    /// <summary>The request-target exactly as sent (RAW_URI).</summary>
    public abstract string RawTarget { get; }
    public abstract string Protocol { get; }
    public abstract string Scheme { get; }
    public abstract IEnumerable<KeyValuePair<string, StringValues>> RequestHeaders { get; }
    /// <summary>Peer address; null on a unix socket.</summary>
    public abstract (string Address, int Port)? Remote { get; }
    /// <summary>Local address the connection came in on; null on a unix socket.</summary>
    public abstract (string Address, int Port)? Local { get; }
    /// <summary>The load balancer a PROXY protocol header named (REMOTE_* is then the client behind it).</summary>
    public virtual (string Protocol, string Address, int Port)? Proxy => null;
    /// <summary>The peer is in forwarded_allow_ips: its forwarder_headers reach the app.</summary>
    public virtual bool FromTrustedForwarder => false;

    /// <summary>Reads body bytes (blocking); 0 at the end. Throws <see cref="BodyReadException"/> or <see cref="ClientGoneException"/>.</summary>
    public abstract int ReadBody(Memory<byte> buffer);

    public abstract void Start(int status, string reason, List<KeyValuePair<string, string>> headers);
    /// <summary>
    /// Appends body bytes; once enough are buffered it sends them, blocking while the client
    /// is slower than the app (see <see cref="FlushesOnWrite"/>).
    /// </summary>
    public abstract void Write(ReadOnlySpan<byte> data);
    /// <summary>Whether writing <paramref name="length"/> more bytes now would send (and may block).</summary>
    public abstract bool FlushesOnWrite(int length);
    /// <summary>Sends what was written (blocking). Throws <see cref="ClientGoneException"/>.</summary>
    public abstract void Flush();
    /// <summary>Sends a range of a file (blocking); returns the bytes sent.</summary>
    public abstract long SendFile(SafeFileHandle file, long offset, long count);

    // ---- for an event loop's thread: nothing here blocks ----

    /// <summary>The request declares a body (Content-Length > 0, chunked, or an HTTP/2 stream that may carry one).</summary>
    public abstract bool HasBody { get; }

    /// <summary>The request's Content-Length, if it has one.</summary>
    public abstract long? DeclaredBodyLength { get; }

    /// <summary>Reads body bytes; 0 at the end. Faults with <see cref="BodyReadException"/> or <see cref="ClientGoneException"/>.</summary>
    public abstract ValueTask<int> ReadBodyAsync(Memory<byte> buffer);

    /// <summary>Appends body bytes to the response, never flushing (the framing rules of <see cref="Write"/> apply).</summary>
    public abstract void Append(ReadOnlySpan<byte> data);

    /// <summary>Sends what was appended. Faults with <see cref="ClientGoneException"/>.</summary>
    public abstract ValueTask FlushAsync();

    /// <summary>Fires when the client is gone.</summary>
    public abstract CancellationToken ClientGone { get; }

    /// <summary>A WebSocket handshake (RFC 6455 over HTTP/1.1) that this exchange can accept.</summary>
    public abstract bool IsWebSocketRequest { get; }

    /// <summary>
    /// Answers the handshake with 101 (and <paramref name="headers"/>) and gives the WebSocket
    /// over the connection; disposing the WebSocket ends the connection (no HTTP follows on it).
    /// </summary>
    public abstract Task<System.Net.WebSockets.WebSocket> AcceptWebSocketAsync(string? subprotocol,
        IReadOnlyList<KeyValuePair<string, string>> headers, System.Net.WebSockets.WebSocketCreationOptions options);

    /// <summary>Environ values the access log format asks for ({key}e atoms), read after the app ran.</summary>
    public Dictionary<string, string>? EnvironAtoms { get; set; }

    /// <summary>True once status and headers are committed.</summary>
    public abstract bool Started { get; }

    /// <summary>Ends the adapter's side of the exchange: the edge finishes the response (GIL held: must not block).</summary>
    public abstract void Complete(ExchangeOutcome outcome);
}

/// <summary>The request body is malformed (bad chunk framing): the connection closes without an answer, as Gunicorn does.</summary>
internal sealed class BodyReadException(string message, Exception? inner) : Exception(message, inner);

/// <summary>The client closed the connection.</summary>
internal sealed class ClientGoneException(string message, Exception? inner = null) : Exception(message, inner);
