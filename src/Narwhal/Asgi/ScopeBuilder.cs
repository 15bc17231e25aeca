using System.Text;
using Narwhal.Http;
using Narwhal.Loop;
using Narwhal.Python;
using Narwhal.Syntax;

namespace Narwhal.Asgi;

/// <summary>
/// Builds each connection scope (ASGI HTTP and WebSocket spec 2.4) in C#, on the loop thread
/// with the GIL held: the constant part is a template copied per request, keys are interned,
/// lower-cased header names are cached as bytes. Follows uvicorn where the spec leaves room.
/// </summary>
internal sealed class ScopeBuilder : IRequestEncoder
{
    private readonly PyStored _http, _websocket;
    private readonly PyStored _method, _scheme, _httpVersion, _path, _rawPath, _queryString, _headers, _client, _server, _subprotocols;
    private readonly Dictionary<string, PyStored> _names = new(StringComparer.Ordinal);
    private readonly Dictionary<string, PyStored> _constants = new(StringComparer.Ordinal);
    // Caps the caches so a client sending random names or methods cannot grow them without bound.
    private const int MaxCached = 512;

    /// <summary>Must hold the GIL.</summary>
    public ScopeBuilder(string rootPath)
    {
        _http = Template("http", rootPath, "2.4");
        _websocket = Template("websocket", rootPath, "2.4");
        _method = Key("method");
        _scheme = Key("scheme");
        _httpVersion = Key("http_version");
        _path = Key("path");
        _rawPath = Key("raw_path");
        _queryString = Key("query_string");
        _headers = Key("headers");
        _client = Key("client");
        _server = Key("server");
        _subprotocols = Key("subprotocols");
    }

    private static PyStored Key(string name) => Interop.Interned(name).Store();

    private static PyStored Template(string type, string rootPath, string specVersion)
    {
        var scope = Containers.Dict();
        using (var k = Interop.Interned("type"))
        using (var v = Interop.Interned(type)) Containers.Set(scope, k, v);
        using (var asgi = Containers.Dict())
        {
            using (var k = Interop.Interned("version"))
            using (var v = Interop.Str("3.0")) Containers.Set(asgi, k, v);
            using (var k = Interop.Interned("spec_version"))
            using (var v = Interop.Str(specVersion)) Containers.Set(asgi, k, v);
            using var key = Interop.Interned("asgi");
            Containers.Set(scope, key, asgi);
        }
        using (var k = Interop.Interned("root_path"))
        using (var v = Interop.Str(rootPath)) Containers.Set(scope, k, v);
        using (var k = Interop.Interned("extensions"))
        using (var extensions = Containers.Dict())
        {
            if (type == "websocket")
                using (var name = Interop.Str("websocket.http.response"))
                using (var empty = Containers.Dict()) Containers.Set(extensions, name, empty);
            Containers.Set(scope, k, extensions);
        }
        return scope.Store();
    }

    /// <summary>The scope of one request (new reference).</summary>
    public PyOwned Encode(LoopCycle cycle) => Build(cycle.Exchange, cycle.IsWebSocket);

    public PyOwned Build(Exchange x, bool webSocket)
    {
        var scope = Containers.Copy(webSocket ? _websocket : _http);
        var (rawPath, query) = RequestTarget.Split(x.RawTarget);
        if (!webSocket)
            using (var v = Constant(x.Method)) Containers.Set(scope, _method, v);
        var scheme = x.Scheme;
        using (var v = Constant(webSocket ? (scheme == "https" ? "wss" : "ws") : scheme)) Containers.Set(scope, _scheme, v);
        using (var v = Constant(HttpVersion(x.Protocol))) Containers.Set(scope, _httpVersion, v);
        using (var v = Interop.Str(DecodedPath(rawPath))) Containers.Set(scope, _path, v);
        using (var v = Latin1Bytes(rawPath)) Containers.Set(scope, _rawPath, v);
        using (var v = Latin1Bytes(query)) Containers.Set(scope, _queryString, v);
        List<string> subprotocols;
        string? forwardedFor;
        using (var headers = Headers(x, webSocket, out subprotocols, out forwardedFor))
            Containers.Set(scope, _headers, headers);
        if (webSocket)
            using (var list = Interop.StrList(subprotocols)) Containers.Set(scope, _subprotocols, list);
        using (var v = Address(Client(x, forwardedFor))) Containers.Set(scope, _client, v);
        using (var v = Address(x.Local)) Containers.Set(scope, _server, v);
        return scope;
    }

    private static string HttpVersion(string protocol) => protocol switch
    {
        "HTTP/1.1" => "1.1",
        "HTTP/1.0" => "1.0",
        "HTTP/2" => "2",
        "HTTP/3" => "3",
        _ => protocol.StartsWith("HTTP/", StringComparison.Ordinal) ? protocol[5..] : protocol,
    };

    /// <summary>Percent-decoded, then UTF-8 with replacement characters, as uvicorn's unquote.</summary>
    private static string DecodedPath(string raw)
    {
        if (raw.IndexOf('%') < 0) return raw;
        var bytes = raw.Length <= 1024 ? stackalloc byte[raw.Length] : new byte[raw.Length];
        var n = RequestTarget.PercentDecode(raw, bytes);
        return Encoding.UTF8.GetString(bytes[..n]);
    }

    private static PyOwned Latin1Bytes(string s)
    {
        var bytes = s.Length <= 1024 ? stackalloc byte[s.Length] : new byte[s.Length];
        Encoding.Latin1.GetBytes(s, bytes);
        return Interop.Bytes(bytes);
    }

    /// <summary>[(name, value)] as bytes, names lower-cased, each repeated field its own pair.</summary>
    private PyOwned Headers(Exchange x, bool webSocket, out List<string> subprotocols, out string? forwardedFor)
    {
        var list = Containers.List();
        subprotocols = [];
        forwardedFor = null;
        foreach (var (name, values) in x.RequestHeaders)
        {
            if (values.Count > 0 && name.Length == 15 && name.Equals("X-Forwarded-For", StringComparison.OrdinalIgnoreCase))
                forwardedFor = values[^1];
            using var key = Name(name);
            var isProtocols = webSocket && name.Equals("Sec-WebSocket-Protocol", StringComparison.OrdinalIgnoreCase);
            foreach (var value in values)
            {
                if (value is null) continue;
                using var v = Latin1Bytes(value);
                using var pair = Containers.Tuple(key, v);
                Containers.Append(list, pair);
                if (isProtocols)
                    subprotocols.AddRange(value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));
            }
        }
        return list;
    }

    private PyOwned Name(string name)
    {
        if (_names.TryGetValue(name, out var cached)) return PyOwned.IncRef(cached);
        var lower = Latin1Bytes(name.ToLowerInvariant());
        if (_names.Count < MaxCached) _names[name] = PyOwned.IncRef(lower).Store();
        return lower;
    }

    private PyOwned Constant(string s)
    {
        if (_constants.TryGetValue(s, out var cached)) return PyOwned.IncRef(cached);
        var str = Interop.Str(s);
        if (_constants.Count < MaxCached) _constants[s] = PyOwned.IncRef(str).Store();
        return str;
    }

    /// <summary>
    /// The peer, or for a peer in forwarded_allow_ips the last X-Forwarded-For address (port 0),
    /// as uvicorn's proxy headers give it under Gunicorn.
    /// </summary>
    private static (string Address, int Port)? Client(Exchange x, string? forwardedFor)
    {
        if (string.IsNullOrWhiteSpace(forwardedFor) || !x.FromTrustedForwarder) return x.Remote;
        var comma = forwardedFor.LastIndexOf(',');
        var host = (comma < 0 ? forwardedFor : forwardedFor[(comma + 1)..]).Trim();
        return host.Length > 0 ? (host, 0) : x.Remote;
    }

    private static PyOwned Address((string Address, int Port)? endpoint)
    {
        if (endpoint is not var (host, port)) return Interop.NewNone();
        using var h = Interop.Str(host);
        using var p = Interop.Long(port);
        return Containers.Tuple(h, p);
    }
}
