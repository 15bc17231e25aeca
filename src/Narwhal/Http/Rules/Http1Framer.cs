using System.Buffers;
using System.Text;

namespace Narwhal.Http;

/// <summary>
/// The HTTP/1 framer: where a connection's byte stream is, message by message, and what of it
/// goes on to Kestrel's parser. A pure function over bytes (and the state it carries from one
/// call to the next): it reads what arrived, writes what to pass on, and says how much it
/// consumed; it never reads a socket or waits. The head inspector pumps a connection through
/// it (<see cref="HeadInspector"/>), and its unit tests feed it the corpus split every way.
/// <para>Its rules, on each head:</para>
/// <list type="bullet">
/// <item>The request line's exact shape. Kestrel's parser takes the version from the end of
/// the line and does not check what separates it from the target: "GET /xHTTP/1.0" and
/// "GET /a  HTTP/1.1" reach the app as "GET / HTTP/1.0" and "GET /a HTTP/1.1". Gunicorn
/// refuses both. A line that is not METHOD SP TARGET SP HTTP/d.d is made unmistakably
/// invalid (a NUL in front) so that Kestrel refuses it with a 400 in its turn, after
/// answering any request pipelined before it.</item>
/// <item>A Content-Length that is not digits only ("+1", "-0", "5, 5") is refused the same way:
/// Kestrel would read a number.</item>
/// <item>permit_obsolete_folding and strip_header_spaces, Gunicorn's opt-in leniencies,
/// which Kestrel has no switch for: the head is rewritten into the form Gunicorn would have
/// parsed it to (folded lines joined with one space, spaces before the colon removed).</item>
/// </list>
/// It follows the message framing (Content-Length, chunked) so that it only ever looks at
/// heads. (An Upgrade header changes nothing by itself: only the server's 101, through
/// <see cref="SwitchProtocols"/>, ends the HTTP framing, as it ends Kestrel's.) Whatever it cannot frame with certainty (both or odd framing
/// headers, CONNECT, a head past the limits, a folded field past limit_request_field_size) it passes on
/// unchanged from there on, and Kestrel's strict parser refuses it as usual: this layer can
/// make a request invalid, or acceptable as Gunicorn accepts it, but never changes where one
/// ends. The h2c preface switches it to passing everything on.
/// <para>Each head it frames is reported to <paramref name="onHead"/> (the field values Kestrel
/// will change, <see cref="VerbatimFields"/>), in order; a refused head is not.</para>
/// </summary>
internal sealed class Http1Framer(RequestRules rules, Action<VerbatimFields.Head>? onHead = null)
{
    // Poison: the head is refused (a NUL in front for Kestrel to reject), then Passthrough.
    private enum State { Head, Fields, Body, ChunkSize, ChunkData, Trailers, Passthrough, Poison }

    private const int MaxChunkLine = 4096;
    private const int MaxTrailerBytes = 64 * 1024;
    private State _state = State.Head;
    private long _remaining;
    private long _trailerBytes;
    private byte[] _requestLine = [];

    /// <summary>
    /// The server switched protocols (101, a WebSocket): the bytes from here on are not HTTP,
    /// and go on unframed, as they do to Kestrel.
    /// </summary>
    public void SwitchProtocols() => _state = State.Passthrough;

    /// <summary>
    /// Frames what arrived: <paramref name="buffer"/> is everything not consumed so far plus the
    /// new bytes, <paramref name="completed"/> says the client will send no more. What goes on
    /// to Kestrel is written to <paramref name="output"/>; the bytes after the returned position
    /// are kept for the next call (a head not yet whole).
    /// </summary>
    public SequencePosition Process(ReadOnlySequence<byte> buffer, bool completed, IBufferWriter<byte> output)
    {
        while (buffer.Length > 0)
        {
            switch (_state)
            {
                case State.Passthrough:
                    Write(output, buffer);
                    return buffer.End;
                case State.Body:
                case State.ChunkData:
                {
                    var n = Math.Min(_remaining, buffer.Length);
                    Write(output, buffer.Slice(0, n));
                    buffer = buffer.Slice(n);
                    _remaining -= n;
                    if (_remaining == 0) _state = _state == State.Body ? State.Head : State.ChunkSize;
                    break;
                }
                case State.Head:
                {
                    // Empty lines before a request line are allowed (RFC 9112 2.2): pass them on.
                    if (buffer.FirstSpan[0] is (byte)'\r' or (byte)'\n')
                    {
                        Write(output, buffer.Slice(0, 1));
                        buffer = buffer.Slice(1);
                        break;
                    }
                    // The request line goes on to Kestrel as soon as it is whole and checked,
                    // so that Kestrel's header timeout sees a request begun (408, not a silent close).
                    var reader = new SequenceReader<byte>(buffer);
                    if (!reader.TryReadTo(out ReadOnlySequence<byte> lineBytes, "\r\n"u8))
                    {
                        if (buffer.Length <= rules.MaxHead && !completed) return buffer.Start;
                        _state = State.Passthrough; // too long for any limit: Kestrel refuses it
                        break;
                    }
                    var line = lineBytes.ToArray();
                    if (line.AsSpan().StartsWith("PRI * HTTP/2.0"u8))
                    {
                        _state = State.Passthrough; // the h2c preface: HTTP/2 from here on
                        break;
                    }
                    if (!RequestLineIsWellFormed(line))
                    {
                        // Kestrel answers a NUL in the request line with 400 and closes.
                        output.Write("\0"u8);
                        _state = State.Passthrough;
                        break;
                    }
                    Write(output, buffer.Slice(0, reader.Position));
                    buffer = buffer.Slice(reader.Position);
                    _requestLine = line;
                    _state = State.Fields;
                    break;
                }
                case State.Fields:
                {
                    ReadOnlySequence<byte> fields;
                    SequencePosition end;
                    if (buffer.FirstSpan[0] == (byte)'\r')
                    {
                        // No fields: only the empty line (its LF may not be here yet).
                        if (buffer.Length < 2) return completed ? buffer.End : buffer.Start;
                        fields = default;
                        end = buffer.GetPosition(2);
                    }
                    else
                    {
                        var reader = new SequenceReader<byte>(buffer);
                        if (!reader.TryReadTo(out fields, "\r\n\r\n"u8))
                        {
                            if (buffer.Length <= rules.MaxHead && !completed) return buffer.Start;
                            _state = State.Passthrough; // too long for any limit: Kestrel refuses it
                            break;
                        }
                        end = reader.Position;
                    }
                    var block = fields.IsSingleSegment ? fields.FirstSpan : fields.ToArray();
                    State next;
                    if (rules.Lenient && block.Length > 0)
                    {
                        var rewritten = Rewrite(_requestLine, block.ToArray(), out next, out _remaining);
                        if (rewritten == null)
                        {
                            _state = State.Passthrough;
                            break;
                        }
                        if (next == State.Poison) output.Write("\0"u8);
                        else onHead?.Invoke(VerbatimFields.Read(_requestLine, rewritten));
                        output.Write(rewritten);
                        output.Write("\r\n\r\n"u8);
                    }
                    else
                    {
                        next = Frame(_requestLine, block, out _remaining);
                        if (next == State.Poison) output.Write("\0"u8);
                        else onHead?.Invoke(VerbatimFields.Read(_requestLine, block));
                        Write(output, buffer.Slice(0, end));
                    }
                    buffer = buffer.Slice(end);
                    _state = next == State.Poison ? State.Passthrough
                        : next == State.Body && _remaining == 0 ? State.Head : next;
                    break;
                }
                case State.ChunkSize:
                case State.Trailers:
                {
                    var reader = new SequenceReader<byte>(buffer);
                    if (!reader.TryReadTo(out ReadOnlySequence<byte> line, (byte)'\n'))
                    {
                        if (buffer.Length <= MaxChunkLine && !completed) return buffer.Start;
                        _state = State.Passthrough;
                        break;
                    }
                    var bytes = line.ToArray();
                    if (bytes.Length > MaxChunkLine || bytes.Length == 0 || bytes[^1] != '\r')
                    {
                        _state = State.Passthrough;
                        break;
                    }
                    if (_state == State.ChunkSize)
                    {
                        if (!TryChunkSize(bytes.AsSpan(0, bytes.Length - 1), out var size))
                        {
                            _state = State.Passthrough;
                            break;
                        }
                        _state = size == 0 ? State.Trailers : State.ChunkData;
                        _remaining = size + 2; // the data and its CRLF
                        _trailerBytes = 0;
                    }
                    else
                    {
                        _trailerBytes += bytes.Length + 1;
                        if (_trailerBytes > MaxTrailerBytes)
                        {
                            _state = State.Passthrough;
                            break;
                        }
                        if (bytes.Length == 1) _state = State.Head; // the empty line ending the trailers
                    }
                    Write(output, buffer.Slice(0, reader.Position));
                    buffer = buffer.Slice(reader.Position);
                    break;
                }
            }
        }
        return buffer.End;
    }

    /// <summary>METHOD SP TARGET SP HTTP/d.d, each part non-empty, single spaces, no controls.</summary>
    private static bool RequestLineIsWellFormed(ReadOnlySpan<byte> line)
    {
        var firstSpace = line.IndexOf((byte)' ');
        var lastSpace = line.LastIndexOf((byte)' ');
        if (firstSpace <= 0 || lastSpace <= firstSpace + 1) return false;
        var target = line[(firstSpace + 1)..lastSpace];
        var version = line[(lastSpace + 1)..];
        foreach (var b in target)
            if (b <= 0x20 || b == 0x7F) return false; // a second space, a tab, a control
        return version.Length == 8 && version.StartsWith("HTTP/"u8)
            && char.IsAsciiDigit((char)version[5]) && version[6] == '.' && char.IsAsciiDigit((char)version[7]);
    }

    /// <summary>
    /// How the body after this head is framed (also for heads <see cref="Rewrite"/>
    /// made): Passthrough when not certain, Poison for a Content-Length that is not digits.
    /// </summary>
    private static State Frame(ReadOnlySpan<byte> requestLine, ReadOnlySpan<byte> fields, out long bodyLength)
    {
        bodyLength = 0;
        if (requestLine.StartsWith("CONNECT "u8)) return State.Passthrough;
        long contentLength = -1;
        var chunked = false;
        foreach (var line in new FieldLines(fields))
        {
            var colon = line.IndexOf((byte)':');
            if (colon <= 0 || line[0] is (byte)' ' or (byte)'\t') return State.Passthrough; // Kestrel refuses it
            var name = line[..colon];
            var value = line[(colon + 1)..].Trim(" \t"u8);
            if (Ascii.EqualsIgnoreCase(name, "Content-Length"u8))
            {
                // Kestrel reads "+1" and "-0" as numbers; Gunicorn (RFC 9110 8.6) wants digits only.
                if (!TryDigits(value, out var n)) return State.Poison;
                if (contentLength >= 0 && contentLength != n) return State.Passthrough;
                contentLength = n;
            }
            else if (Ascii.EqualsIgnoreCase(name, "Transfer-Encoding"u8))
            {
                var lastComma = value.LastIndexOf((byte)',');
                var last = (lastComma < 0 ? value : value[(lastComma + 1)..]).Trim(" \t"u8);
                if (chunked || !Ascii.EqualsIgnoreCase(last, "chunked"u8)) return State.Passthrough;
                chunked = true;
            }
        }
        if (chunked) return contentLength >= 0 ? State.Passthrough : State.ChunkSize;
        if (contentLength < 0) return State.Head;
        bodyLength = contentLength;
        return State.Body;
    }

    private static bool TryDigits(ReadOnlySpan<byte> value, out long n)
    {
        n = 0;
        if (value.Length is 0 or > 18) return false;
        foreach (var b in value)
        {
            if (b is < (byte)'0' or > (byte)'9') return false;
            n = n * 10 + (b - '0');
        }
        return true;
    }

    private static void Write(IBufferWriter<byte> output, ReadOnlySequence<byte> data)
    {
        foreach (var segment in data) output.Write(segment.Span);
    }

    /// <summary>Hex digits, then an optional extension after ';'. Anything else: not sure, hand it on.</summary>
    private static bool TryChunkSize(ReadOnlySpan<byte> line, out long size)
    {
        size = 0;
        var semicolon = line.IndexOf((byte)';');
        var digits = semicolon < 0 ? line : line[..semicolon];
        if (digits.Length is 0 or > 15) return false;
        foreach (var b in digits)
        {
            var v = HexValue(b);
            if (v < 0) return false;
            size = size * 16 + v;
        }
        return true;
    }

    private static int HexValue(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => -1,
    };

    /// <summary>
    /// The header fields (without the final CRLF CRLF) as Gunicorn reads them, and how the body
    /// is framed; null when they should reach Kestrel unchanged.
    /// </summary>
    private byte[]? Rewrite(byte[] requestLine, byte[] fieldBlock, out State next, out long bodyLength)
    {
        next = State.Passthrough;
        bodyLength = 0;
        var text = Encoding.Latin1.GetString(requestLine) + "\r\n" + Encoding.Latin1.GetString(fieldBlock);
        var lines = text.Split("\r\n");
        // A bare CR or LF inside the head: Kestrel refuses it, exactly as Gunicorn does.
        if (lines.Any(l => l.Contains('\r') || l.Contains('\n'))) return null;
        var fields = new List<(string Name, string Value, int Size)>();
        for (var i = 1; i < lines.Length; i++)
        {
            var line = lines[i];
            if (line.Length > 0 && line[0] is ' ' or '\t')
            {
                if (!rules.PermitObsoleteFolding || fields.Count == 0) return null;
                var (name, value, size) = fields[^1];
                size += line.Length + 2;
                // Gunicorn counts the folded field whole against limit_request_field_size.
                if (size > rules.Limits.FieldSize) return null;
                fields[^1] = (name, value + " " + line.Trim(' ', '\t'), size);
                continue;
            }
            var colon = line.IndexOf(':');
            if (colon <= 0) return null;
            var fieldName = line[..colon];
            if (rules.StripHeaderSpaces) fieldName = fieldName.TrimEnd(' ', '\t');
            if (fieldName.Length == 0) return null;
            fields.Add((fieldName, line[(colon + 1)..].Trim(' ', '\t'), line.Length + 2));
        }

        // The request line already went on: only the fields, framed by the rules unchanged heads follow.
        var sb = new StringBuilder(text.Length);
        foreach (var (name, value, _) in fields) sb.Append(sb.Length > 0 ? "\r\n" : "").Append(name).Append(": ").Append(value);
        var rewritten = Encoding.Latin1.GetBytes(sb.ToString());
        next = Frame(requestLine, rewritten, out bodyLength);
        return next == State.Passthrough ? null : rewritten;
    }
}
