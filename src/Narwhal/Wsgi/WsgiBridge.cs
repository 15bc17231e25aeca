using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Narwhal.Http;
using Narwhal.Logging;
using Narwhal.Python;

namespace Narwhal.Wsgi;

/// <summary>
/// The native functions the Python glue calls (<c>_read</c>, <c>_start</c>, <c>_write</c>,
/// <c>_respond</c>, <c>_sendfile</c>; <c>_log</c> is <see cref="NativeLog"/>). Each is entered holding the GIL, releases it
/// around anything that can block, and turns every .NET failure into a Python exception:
/// nothing may unwind through Python's frames.
/// </summary>
internal static unsafe class WsgiBridge
{
    [ThreadStatic] private static byte[]? _readBuffer;
    private static PyStored? _clientDisconnected; // glue's ClientDisconnected type, for the process lifetime

    /// <summary>Creates the native functions and sets them on the glue module.</summary>
    public static void Install(PyBorrowed glueModule)
    {
        NativeFunction.Define(glueModule, "_read", &Read);
        NativeFunction.Define(glueModule, "_start", &Start);
        NativeFunction.Define(glueModule, "_write", &Write);
        NativeFunction.Define(glueModule, "_respond", &Respond);
        NativeFunction.Define(glueModule, "_sendfile", &SendFile);
        NativeLog.Install(glueModule);
        _clientDisconnected = Interop.GetAttr(glueModule, "ClientDisconnected").Store();
    }

    // _read(req, size) -> bytes
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static nint Read(PyBorrowed self, PyBorrowed* args, nint nargs)
    {
        try
        {
            var exchange = FindExchange(args, nargs, 2);
            if (exchange == null) return 0;
            var size = Interop.AsLong(args[1]);
            var buffer = _readBuffer ??= new byte[65536];
            var want = (int)Math.Clamp(size <= 0 ? buffer.Length : size, 1, buffer.Length);
            int n;
            Exception? error;
            using (Gil.Release())
                n = ReadBlocking(exchange, buffer.AsMemory(0, want), out error);
            if (error != null) return RaiseOsError(error);
            return Interop.Bytes(buffer.AsSpan(0, n)).Steal();
        }
        catch (Exception e)
        {
            return RaiseOsError(e);
        }
    }

    private static int ReadBlocking(Exchange exchange, Memory<byte> buffer, out Exception? error)
    {
        error = null;
        try
        {
            return exchange.ReadBody(buffer);
        }
        catch (Exception e)
        {
            error = e;
            return 0;
        }
    }

    // _start(req, code, reason, headers) -> None
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static nint Start(PyBorrowed self, PyBorrowed* args, nint nargs)
    {
        try
        {
            var exchange = FindExchange(args, nargs, 4);
            if (exchange == null) return 0;
            StartResponse(exchange, args[1], args[2], args[3]);
            return Interop.NewNone().Steal();
        }
        catch (Exception e)
        {
            return RaiseOsError(e);
        }
    }

    // _write(req, data, flush) -> None
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static nint Write(PyBorrowed self, PyBorrowed* args, nint nargs)
    {
        try
        {
            var exchange = FindExchange(args, nargs, 3);
            if (exchange == null) return 0;
            if (!Interop.TryGetBytes(args[1], out var data)) return 0;
            return WriteBody(exchange, data, flush: Interop.IsTrue(args[2]) == 1);
        }
        catch (Exception e)
        {
            return RaiseOsError(e);
        }
    }

    // _respond(req, code, reason, headers, data) -> None: a whole one-chunk response.
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static nint Respond(PyBorrowed self, PyBorrowed* args, nint nargs)
    {
        try
        {
            var exchange = FindExchange(args, nargs, 5);
            if (exchange == null) return 0;
            if (!Interop.TryGetBytes(args[4], out var data)) return 0;
            StartResponse(exchange, args[1], args[2], args[3], data.Length);
            return WriteBody(exchange, data, flush: false);
        }
        catch (Exception e)
        {
            return RaiseOsError(e);
        }
    }

    // _sendfile(req, fd, offset, count) -> int bytes sent
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static nint SendFile(PyBorrowed self, PyBorrowed* args, nint nargs)
    {
        try
        {
            var exchange = FindExchange(args, nargs, 4);
            if (exchange == null) return 0;
            var fd = Interop.AsLong(args[1]);
            var offset = Interop.AsLong(args[2]);
            var count = Interop.AsLong(args[3]);
            using var handle = new SafeFileHandle((nint)fd, ownsHandle: false);
            long sent = 0;
            Exception? error = null;
            using (Gil.Release())
            {
                try { sent = exchange.SendFile(handle, offset, count); }
                catch (Exception e) { error = e; }
            }
            return error != null ? RaiseOsError(error) : Interop.Long(sent).Steal();
        }
        catch (Exception e)
        {
            return RaiseOsError(e);
        }
    }

    // ---- helpers (GIL held) ----

    private static Exchange? FindExchange(PyBorrowed* args, nint nargs, int expected)
    {
        if (nargs != expected)
        {
            PythonException.Raise("PyExc_TypeError", $"expected {expected} arguments, got {nargs}");
            return null;
        }
        var exchange = ExchangeTable.Find(Interop.AsLong(args[0]));
        if (exchange == null)
            PythonException.Raise("PyExc_ValueError", "I/O operation on a request that has already finished");
        return exchange;
    }

    /// <summary>Starts the response from start_response's validated status and headers; shared with the green workers' bridge.</summary>
    internal static void StartResponse(Exchange exchange, PyBorrowed code, PyBorrowed reason, PyBorrowed headers, long? oneChunkLength = null)
    {
        var status = (int)Interop.AsLong(code);
        var reasonText = Interop.AsString(reason) ?? "";
        var count = Containers.Count(headers);
        var list = new List<KeyValuePair<string, string>>((int)count + 1);
        var hasLength = false;
        for (nint i = 0; i < count; i++)
        {
            var pair = Containers.Item(headers, i); // (name, value) tuple, validated by the glue
            using var name = Containers.ItemOf(pair, 0);
            using var value = Containers.ItemOf(pair, 1);
            // Header text must be latin-1 (PEP 3333); anything else raises UnicodeEncodeError in the app.
            var n = Interop.Latin1String(name);
            hasLength |= n.Equals("Content-Length", StringComparison.OrdinalIgnoreCase);
            list.Add(new(n, Interop.Latin1String(value)));
        }
        // PEP 3333: the server may set Content-Length for a one-element body.
        if (oneChunkLength is { } len && !hasLength) list.Add(new("Content-Length", len.ToString()));
        exchange.Start(status, reasonText, list);
    }

    /// <summary>
    /// Appends body bytes, and sends them when <paramref name="flush"/> is set or the batch is
    /// full. Bytes only appended are copied holding the GIL (cheaper than handing it over);
    /// a copy that leads to a send runs without it, as does the send, which waits while the
    /// client is slow. The bytes object stays alive meanwhile (the caller holds it) and is
    /// immutable. Returns None, or NULL with the Python exception set.
    /// </summary>
    private static nint WriteBody(Exchange exchange, ReadOnlySpan<byte> data, bool flush)
    {
        if (!flush && !exchange.FlushesOnWrite(data.Length))
        {
            exchange.Write(data);
            return Interop.NewNone().Steal();
        }
        Exception? error = null;
        using (Gil.Release())
        {
            try
            {
                exchange.Write(data);
                if (flush) exchange.Flush();
            }
            catch (Exception e) { error = e; }
        }
        return error != null ? RaiseOsError(error) : Interop.NewNone().Steal();
    }

    /// <summary>Sets the Python exception that matches a .NET failure and returns NULL for the callback.</summary>
    private static nint RaiseOsError(Exception e)
    {
        if (e is PythonErrorPending)
        {
            // The Python error is already set.
        }
        else if (e is PythonException pe)
        {
            PythonException.Raise("PyExc_ValueError", pe.Message);
        }
        else if (e is ClientGoneException)
        {
            PythonException.Raise(_clientDisconnected!, e.Message);
        }
        else if (e is BodyReadException)
        {
            PythonException.Raise("PyExc_OSError", e.Message);
        }
        else
        {
            // Not the client's doing nor the app's: a server bug, so keep its .NET stack.
            ErrorLog.Error($"Internal error in the server: {e}");
            PythonException.Raise("PyExc_OSError", e.Message);
        }
        return 0;
    }
}
