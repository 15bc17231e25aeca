namespace Narwhal.Http;

/// <summary>
/// Gunicorn's request limits, normalized as Gunicorn normalizes them: the request line at
/// most 8190 bytes (0: unlimited), 1 to 32768 header fields (0: 32768), one field at most
/// limit_request_field_size bytes (0 or less: the 8190 default, as Gunicorn's corpus has it).
/// Kestrel is set wider than these, so that Narwhal's own check (<see cref="RequestPolicy"/>)
/// answers with Gunicorn's status instead of Kestrel's 414.
/// </summary>
internal sealed record RequestLimits(int RequestLine, int Fields, int FieldSize)
{
    public const int MaxRequestLine = 8190;
    public const int MaxFields = 32768;
    public const int DefaultFieldSize = 8190;

    /// <summary>Kestrel's own request-line cap: past it, Kestrel answers 414 before Narwhal sees the request.</summary>
    public const int KestrelRequestLine = 64 * 1024;

    /// <summary>The limits as Gunicorn applies the values of its three settings.</summary>
    public static RequestLimits Normalize(int line, int fields, int size) =>
        new(
            line <= 0 ? 0 : Math.Min(line, MaxRequestLine),
            fields <= 0 || fields > MaxFields ? MaxFields : fields,
            size <= 0 ? DefaultFieldSize : size);

    /// <summary>The whole header block Kestrel may buffer: every field at its largest.</summary>
    public int HeadersTotal => (int)Math.Min(int.MaxValue, (long)Fields * (FieldSize + 2) + 4);
}
