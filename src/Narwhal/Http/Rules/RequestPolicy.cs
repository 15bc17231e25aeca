using System.Buffers;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

using Narwhal.Syntax;

namespace Narwhal.Http;

/// <summary>
/// Gunicorn's request rules that Kestrel, which parses the request, is more lenient about.
/// Checked on the parsed request before it is queued for Python, so a rejected request
/// never reaches the app and never occupies a Python thread.
/// </summary>
internal static class RequestPolicy
{
    // DANGER: control characters in a field value (RFC 9110 5.5) are how headers get
    // smuggled past proxies that split on them. HTAB is allowed; obs-text (0x80-0xFF) too.
    private const string ControlsButTab =
        "\0\x01\x02\x03\x04\x05\x06\x07\x08\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x7f";

    private static readonly SearchValues<char> ForbiddenInValue = SearchValues.Create(ControlsButTab);

    // The target allows no control and no space at all. HTTP/1 lines were already checked
    // by the head inspector; this is what holds for HTTP/2's :path.
    private static readonly SearchValues<char> ForbiddenInTarget = SearchValues.Create(ControlsButTab + "\t ");

    // RFC 9110 5.6.2 token characters: all a field name may have. Kestrel lets others
    // through ("Transfer/Encoding"); Gunicorn refuses them (InvalidHeaderName).
    private static readonly SearchValues<char> TokenChars = SearchValues.Create(
        "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");

    // Fields that must not arrive as chunked trailers: they frame or route the request,
    // which was already acted on (RFC 9110 6.5.1). Gunicorn's corpus rejects exactly these
    // and accepts others (valid/012 carries Vary and Content-Type).
    private static readonly HashSet<string> ForbiddenTrailers = new(StringComparer.OrdinalIgnoreCase)
    {
        "Transfer-Encoding", "Content-Length", "Host", "TE", "Trailer",
    };

    /// <summary>The status to reject the request with, or 0 to let it through.</summary>
    public static int Check(RequestRules rules, IHttpRequestFeature request, bool fromTrustedForwarder)
    {
        // Gunicorn's convention for methods (all IANA-registered ones fit it): 3 to 20
        // characters, no lower case, no '#'. Kestrel has already checked it is a token.
        if (!rules.PermitUnconventionalMethod && !ConventionalMethod(request.Method)) return StatusCodes.Status400BadRequest;
        // A tab (or any control) inside the request-target: Kestrel keeps it, Python's
        // urlsplit would silently delete it; neither view is the client's. RFC 9112 3.2: no CTLs.
        if (request.RawTarget.AsSpan().ContainsAny(ForbiddenInTarget)) return StatusCodes.Status400BadRequest;
        var limits = rules.Limits;
        // Gunicorn's limit_request_line: the line without its CRLF. Too long is a 400 there.
        if (limits.RequestLine > 0
            && request.Method.Length + request.RawTarget.Length + request.Protocol.Length + 2 > limits.RequestLine)
            return StatusCodes.Status400BadRequest;
        var fieldSize = limits.FieldSize;
        var headers = request.Headers;
        var headerMap = rules.HeaderMap;
        var refuseUnderscore = headerMap.Mode == HeaderMapMode.Refuse;
        foreach (var (name, values) in headers)
        {
            if (name.AsSpan().ContainsAnyExcept(TokenChars)) return StatusCodes.Status400BadRequest;
            // header_map=refuse: a name that cannot map to an environ key unambiguously.
            if (refuseUnderscore && name.Contains('_') && !headerMap.Passes(name, fromTrustedForwarder))
                return StatusCodes.Status400BadRequest;
            foreach (var value in values)
            {
                if (value is null) continue;
                if (value.AsSpan().ContainsAny(ForbiddenInValue)) return StatusCodes.Status400BadRequest;
                // As Gunicorn counts it: the whole line with its CRLF ("Name: value\r\n").
                if (name.Length + 2 + value.Length + 2 > fieldSize) return StatusCodes.Status431RequestHeaderFieldsTooLarge;
            }
        }

        var transferEncoding = headers.TransferEncoding;
        if (transferEncoding.Count > 0)
        {
            // DANGER: Content-Length beside Transfer-Encoding is the classic smuggling
            // vector; Gunicorn refuses the request rather than pick one (RFC 9112 6.1).
            // Kestrel frames by Transfer-Encoding and moves the Content-Length it got to
            // X-Content-Length, so that is where it shows.
            if (headers.ContainsKey("Content-Length") || headers.ContainsKey("X-Content-Length"))
                return StatusCodes.Status400BadRequest;
            // Chunked framing does not exist in HTTP/1.0.
            if (HttpProtocol.IsHttp10(request.Protocol)) return StatusCodes.Status400BadRequest;
        }

        // One request, one media type: Gunicorn rejects a repeated Content-Type.
        if (headers.ContentType.Count > 1) return StatusCodes.Status400BadRequest;

        // A front-end's SCRIPT_NAME must prefix the path it sent (Gunicorn refuses the request).
        if (headerMap.ScriptNameHeader(headers, fromTrustedForwarder) is { Length: > 0 } scriptName
            && !RequestTarget.Split(request.RawTarget).Path.StartsWith(scriptName, StringComparison.Ordinal))
            return StatusCodes.Status400BadRequest;
        return 0;
    }

    private static bool ConventionalMethod(string method)
    {
        if (method.Length is < 3 or > 20) return false;
        foreach (var c in method)
            if (c is >= 'a' and <= 'z' or '#') return false;
        return true;
    }

    /// <summary>True if the trailers that ended a chunked body are acceptable.</summary>
    public static bool TrailersAllowed(IHttpRequestTrailersFeature? trailers)
    {
        if (trailers is not { Available: true }) return true;
        foreach (var (name, values) in trailers.Trailers)
        {
            if (ForbiddenTrailers.Contains(name) || name.AsSpan().ContainsAnyExcept(TokenChars)) return false;
            foreach (var value in values)
                if (value != null && value.AsSpan().ContainsAny(ForbiddenInValue)) return false;
        }
        return true;
    }
}
