using System.Text;
using Narwhal.Http;
using Narwhal.Syntax;
using Narwhal.Python;

namespace Narwhal.Wsgi;

/// <summary>
/// Builds each request's environ. The constant part is built once per worker and copied;
/// keys are interned once; header keys are cached, so a request crosses into Python with
/// few allocations. Only used with the GIL held, which also serializes its caches.
/// Follows Gunicorn's gunicorn/http/wsgi.py where PEP 3333 leaves room.
/// </summary>
internal sealed class EnvironBuilder
{
    private readonly PyStored _base;
    private readonly PyStored _inputType;
    private readonly string _scriptName;
    private readonly HeaderMap _headerMap;
    private readonly Dictionary<string, PyStored> _headerKeys = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, PyStored> _constants = new(StringComparer.Ordinal);
    private readonly PyStored _requestMethod, _scriptNameKey, _pathInfo, _queryString, _rawUri, _serverProtocol,
        _remoteAddr, _remotePort, _proxyProtocol, _proxyAddr, _proxyPort, _serverName, _serverPort, _contentType, _contentLength, _urlScheme, _input;

    // Caps the header-key cache so a client sending random header names cannot grow it without bound.
    private const int MaxCachedHeaderKeys = 512;

    /// <summary>Must hold the GIL.</summary>
    public EnvironBuilder(PyBorrowed glue, bool multithread, bool multiprocess, HeaderMap headerMap)
    {
        _headerMap = headerMap;
        // Gunicorn reads SCRIPT_NAME from the process environment (the header carries '_',
        // which the default header_map drops).
        _scriptName = Environment.GetEnvironmentVariable("SCRIPT_NAME") ?? "";
        _inputType = Interop.GetAttr(glue, "InputStream").Store();
        _base = Containers.Dict().Store();
        using (var major = Interop.Long(1))
        using (var minor = Interop.Long(0))
        using (var version = Containers.Tuple(major, minor))
            SetBase("wsgi.version", version);
        using (var errorsType = Interop.GetAttr(glue, "ErrorStream"))
        using (var errors = Interop.Call(errorsType)) SetBase("wsgi.errors", errors);
        using (var wrapper = Interop.GetAttr(glue, "FileWrapper")) SetBase("wsgi.file_wrapper", wrapper);
        using (var v = Interop.Bool(multithread)) SetBase("wsgi.multithread", v);
        using (var v = Interop.Bool(multiprocess)) SetBase("wsgi.multiprocess", v);
        using (var v = Interop.Bool(false)) SetBase("wsgi.run_once", v);
        // Kestrel de-chunks and delimits every body: reading to b'' is always safe.
        using (var v = Interop.Bool(true)) SetBase("wsgi.input_terminated", v);
        using (var v = Interop.Str($"narwhal/{Program.Version}")) SetBase("SERVER_SOFTWARE", v);

        _requestMethod = Key("REQUEST_METHOD");
        _scriptNameKey = Key("SCRIPT_NAME");
        _pathInfo = Key("PATH_INFO");
        _queryString = Key("QUERY_STRING");
        _rawUri = Key("RAW_URI");
        _serverProtocol = Key("SERVER_PROTOCOL");
        _remoteAddr = Key("REMOTE_ADDR");
        _remotePort = Key("REMOTE_PORT");
        _proxyProtocol = Key("PROXY_PROTOCOL");
        _proxyAddr = Key("PROXY_ADDR");
        _proxyPort = Key("PROXY_PORT");
        _serverName = Key("SERVER_NAME");
        _serverPort = Key("SERVER_PORT");
        _contentType = Key("CONTENT_TYPE");
        _contentLength = Key("CONTENT_LENGTH");
        _urlScheme = Key("wsgi.url_scheme");
        _input = Key("wsgi.input");
    }

    private void SetBase(string key, PyBorrowed value)
    {
        using var k = Interop.Interned(key);
        Containers.Set(_base, k, value);
    }

    private static PyStored Key(string name) => Interop.Interned(name).Store();

    /// <summary>The environ for one request (new reference). Must hold the GIL.</summary>
    public PyOwned Build(Exchange x)
    {
        var env = Containers.Copy(_base);
        try
        {
            PyBorrowed d = env;
            SetConstant(d, _requestMethod, x.Method);
            SetConstant(d, _serverProtocol, x.Protocol);
            SetConstant(d, _urlScheme, x.Scheme);
            Set(d, _rawUri, x.RawTarget);

            var (path, query) = RequestTarget.Split(x.RawTarget);
            Set(d, _queryString, query);
            var scriptName = _scriptName;
            string? host = null;
            // header_map=dangerous only: environ keys already set, to join colliding names.
            Dictionary<string, string>? mapped = _headerMap.Mode == HeaderMapMode.Dangerous ? new(StringComparer.Ordinal) : null;
            foreach (var (name, values) in x.RequestHeaders)
            {
                var value = values.Count == 1 ? values[0] ?? "" : string.Join(',', values.ToArray());
                if (name.Equals("Content-Type", StringComparison.OrdinalIgnoreCase)) { Set(d, _contentType, value); continue; }
                if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)) { Set(d, _contentLength, value); continue; }
                if (name.Equals("Host", StringComparison.OrdinalIgnoreCase)) host = value;
                var underscore = name.Contains('_');
                // Gunicorn's default header_map="drop": a name with '_' could pose as one with
                // '-' once both become HTTP_*, so it never reaches the app, unless a trusted
                // front-end may send it (forwarder_headers). (With "refuse" the request was
                // already a 400.)
                if (underscore && !_headerMap.Passes(name, x.FromTrustedForwarder)) continue;
                // A front-end mounting the app below a prefix says so (Gunicorn's wsgi.py);
                // the policy already refused a path that does not start with it.
                if (underscore && name.Equals("SCRIPT_NAME", StringComparison.OrdinalIgnoreCase)) scriptName = value;
                if (mapped != null)
                {
                    var key = EnvironKey(name);
                    value = mapped.TryGetValue(key, out var earlier) ? earlier + "," + value : value;
                    mapped[key] = value;
                    SetHeader(d, name, value);
                    continue;
                }
                SetHeader(d, name, value);
            }

            if (scriptName.Length > 0 && path.StartsWith(scriptName, StringComparison.Ordinal))
                path = path[scriptName.Length..];
            SetPathInfo(d, path);
            Set(d, _scriptNameKey, scriptName);

            if (x.Remote is { } remote)
            {
                Set(d, _remoteAddr, remote.Address);
                Set(d, _remotePort, remote.Port.ToString());
            }
            else
            {
                Set(d, _remoteAddr, ""); // a unix socket peer has no address (Gunicorn gives '')
            }
            if (x.Proxy is { } proxy)
            {
                Set(d, _proxyProtocol, proxy.Protocol);
                Set(d, _proxyAddr, proxy.Address);
                Set(d, _proxyPort, proxy.Port.ToString());
            }

            if (x.Local is { } local)
            {
                Set(d, _serverName, local.Address);
                Set(d, _serverPort, local.Port.ToString());
            }
            else
            {
                // Gunicorn: on a unix socket, SERVER_* come from the Host header when there is one.
                var (name, port) = SplitHost(host, x.Scheme);
                Set(d, _serverName, name);
                Set(d, _serverPort, port);
            }

            using var id = Interop.Long(x.Id);
            using var input = Interop.Call(_inputType, id);
            Containers.Set(d, _input, input);
            return env;
        }
        catch
        {
            env.Dispose();
            throw;
        }
    }

    private static (string Name, string Port) SplitHost(string? host, string scheme)
    {
        if (string.IsNullOrEmpty(host)) return ("", "");
        var colon = host.LastIndexOf(':');
        if (colon > 0 && host.IndexOf(']') < colon) return (host[..colon], host[(colon + 1)..]);
        return (host, scheme == "https" ? "443" : "80");
    }

    private void SetPathInfo(PyBorrowed d, string path)
    {
        Span<byte> buffer = path.Length <= 2048 ? stackalloc byte[path.Length] : new byte[path.Length];
        var n = RequestTarget.PercentDecode(path, buffer);
        using var value = Interop.Latin1(buffer[..n]);
        Containers.Set(d, _pathInfo, value);
    }

    /// <summary>HTTP_ and the name upper-cased with '-' as '_', as Gunicorn builds it.</summary>
    private static string EnvironKey(string name)
    {
        var sb = new StringBuilder("HTTP_", name.Length + 5);
        foreach (var c in name) sb.Append(c == '-' ? '_' : char.ToUpperInvariant(c));
        return sb.ToString();
    }

    private void SetHeader(PyBorrowed d, string name, string value)
    {
        if (_headerKeys.TryGetValue(name, out var cached))
        {
            Set(d, cached, value);
            return;
        }
        using var key = Interop.Interned(EnvironKey(name));
        Set(d, key, value);
        if (_headerKeys.Count < MaxCachedHeaderKeys) _headerKeys[name] = key.Store();
    }

    private static void Set(PyBorrowed d, PyBorrowed key, string value)
    {
        using var v = Interop.Latin1(value);
        Containers.Set(d, key, v);
    }

    /// <summary>Methods, protocols and schemes repeat: one str object each, made once (bounded).</summary>
    private void SetConstant(PyBorrowed d, PyBorrowed key, string s)
    {
        if (!_constants.TryGetValue(s, out var v))
        {
            if (_constants.Count >= 64)
            {
                Set(d, key, s);
                return;
            }
            _constants[s] = v = Interop.Latin1(s).Store();
        }
        Containers.Set(d, key, v);
    }
}
