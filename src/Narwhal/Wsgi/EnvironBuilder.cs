using System.Text;
using Narwhal.Http;
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
    private readonly PyRef _base;
    private readonly PyRef _inputType;
    private readonly string _scriptName;
    private readonly HeaderMap _headerMap;
    private readonly Dictionary<string, PyRef> _headerKeys = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, PyRef> _constants = new(StringComparer.Ordinal);
    private PyRef _requestMethod, _scriptNameKey, _pathInfo, _queryString, _rawUri, _serverProtocol,
        _remoteAddr, _remotePort, _proxyProtocol, _proxyAddr, _proxyPort, _serverName, _serverPort, _contentType, _contentLength, _urlScheme, _input;

    // Caps the header-key cache so a client sending random header names cannot grow it without bound.
    private const int MaxCachedHeaderKeys = 512;

    /// <summary>Must hold the GIL.</summary>
    public EnvironBuilder(nint glue, bool multithread, bool multiprocess, HeaderMap headerMap)
    {
        _headerMap = headerMap;
        // Gunicorn reads SCRIPT_NAME from the process environment (the header carries '_',
        // which the default header_map drops).
        _scriptName = Environment.GetEnvironmentVariable("SCRIPT_NAME") ?? "";
        _inputType = Interop.GetAttr(glue, "InputStream");
        _base = PyRef.Own(Native.PyDict_New());
        using (var version = PyRef.Own(Native.PyTuple_New(2)))
        {
            Native.PyTuple_SetItem(version.Handle, 0, Interop.Long(1).Steal());
            Native.PyTuple_SetItem(version.Handle, 1, Interop.Long(0).Steal());
            SetBase("wsgi.version", version.Handle);
        }
        using (var errorsType = Interop.GetAttr(glue, "ErrorStream"))
        using (var errors = Interop.Call(errorsType.Handle)) SetBase("wsgi.errors", errors.Handle);
        using (var wrapper = Interop.GetAttr(glue, "FileWrapper")) SetBase("wsgi.file_wrapper", wrapper.Handle);
        using (var v = Interop.Bool(multithread)) SetBase("wsgi.multithread", v.Handle);
        using (var v = Interop.Bool(multiprocess)) SetBase("wsgi.multiprocess", v.Handle);
        using (var v = Interop.Bool(false)) SetBase("wsgi.run_once", v.Handle);
        // Kestrel de-chunks and delimits every body: reading to b'' is always safe.
        using (var v = Interop.Bool(true)) SetBase("wsgi.input_terminated", v.Handle);
        using (var v = Interop.Str($"narwhal/{Program.Version}")) SetBase("SERVER_SOFTWARE", v.Handle);

        _requestMethod = Interop.Interned("REQUEST_METHOD");
        _scriptNameKey = Interop.Interned("SCRIPT_NAME");
        _pathInfo = Interop.Interned("PATH_INFO");
        _queryString = Interop.Interned("QUERY_STRING");
        _rawUri = Interop.Interned("RAW_URI");
        _serverProtocol = Interop.Interned("SERVER_PROTOCOL");
        _remoteAddr = Interop.Interned("REMOTE_ADDR");
        _remotePort = Interop.Interned("REMOTE_PORT");
        _proxyProtocol = Interop.Interned("PROXY_PROTOCOL");
        _proxyAddr = Interop.Interned("PROXY_ADDR");
        _proxyPort = Interop.Interned("PROXY_PORT");
        _serverName = Interop.Interned("SERVER_NAME");
        _serverPort = Interop.Interned("SERVER_PORT");
        _contentType = Interop.Interned("CONTENT_TYPE");
        _contentLength = Interop.Interned("CONTENT_LENGTH");
        _urlScheme = Interop.Interned("wsgi.url_scheme");
        _input = Interop.Interned("wsgi.input");
    }

    private void SetBase(string key, nint value)
    {
        using var k = Interop.Interned(key);
        if (Native.PyDict_SetItem(_base.Handle, k.Handle, value) != 0) throw PythonException.Fetch();
    }

    /// <summary>The environ for one request (new reference). Must hold the GIL.</summary>
    public PyRef Build(WsgiExchange x)
    {
        var env = PyRef.Own(Native.PyDict_Copy(_base.Handle));
        try
        {
            var d = env.Handle;
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
            using var input = Interop.Call(_inputType.Handle, id.Handle);
            Set(d, _input, input);
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

    private unsafe void SetPathInfo(nint d, string path)
    {
        Span<byte> buffer = path.Length <= 2048 ? stackalloc byte[path.Length] : new byte[path.Length];
        var n = RequestTarget.PercentDecode(path, buffer);
        using var value = Interop.Latin1(buffer[..n]);
        if (Native.PyDict_SetItem(d, _pathInfo.Handle, value.Handle) != 0) throw PythonException.Fetch();
    }

    /// <summary>HTTP_ and the name upper-cased with '-' as '_', as Gunicorn builds it.</summary>
    private static string EnvironKey(string name)
    {
        var sb = new StringBuilder("HTTP_", name.Length + 5);
        foreach (var c in name) sb.Append(c == '-' ? '_' : char.ToUpperInvariant(c));
        return sb.ToString();
    }

    private void SetHeader(nint d, string name, string value)
    {
        if (!_headerKeys.TryGetValue(name, out var key))
        {
            key = Interop.Interned(EnvironKey(name));
            if (_headerKeys.Count < MaxCachedHeaderKeys) _headerKeys[name] = key;
            else
            {
                try { SetRaw(d, key.Handle, value); }
                finally { key.Dispose(); }
                return;
            }
        }
        SetRaw(d, key.Handle, value);
    }

    private static void SetRaw(nint d, nint key, string value)
    {
        using var v = Interop.Latin1(value);
        if (Native.PyDict_SetItem(d, key, v.Handle) != 0) throw PythonException.Fetch();
    }

    private static void Set(nint d, PyRef key, string value) => SetRaw(d, key.Handle, value);

    private static void Set(nint d, PyRef key, PyRef value)
    {
        if (Native.PyDict_SetItem(d, key.Handle, value.Handle) != 0) throw PythonException.Fetch();
    }

    /// <summary>Methods, protocols and schemes repeat: one str object each, made once (bounded).</summary>
    private void SetConstant(nint d, PyRef key, string s)
    {
        if (!_constants.TryGetValue(s, out var v))
        {
            if (_constants.Count >= 64)
            {
                SetRaw(d, key.Handle, s);
                return;
            }
            _constants[s] = v = Interop.Latin1(s);
        }
        Set(d, key, v);
    }
}
