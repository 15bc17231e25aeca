using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Narwhal.Http;
using Narwhal.Logging;
using Narwhal.Python;

namespace Narwhal.Asgi;

/// <summary>
/// The native functions the ASGI glue calls on the loop thread: <c>_drain</c>, <c>_receive</c>,
/// <c>_send</c>, <c>_complete</c>, <c>_ws_accept</c>, <c>_ws_send</c>, <c>_ws_close</c>, <c>_ready</c>.
/// None of them blocks: what cannot finish at once completes later as an event. Every .NET
/// failure becomes a Python exception; nothing unwinds through Python's frames.
/// </summary>
internal static unsafe class AsgiBridge
{
    private static AsgiServer? _server;
    private static PyStored? _clientDisconnected;

    public static void Install(PyBorrowed glue, AsgiServer server)
    {
        _server = server;
        NativeFunction.Define(glue, "_drain", &Drain);
        NativeFunction.Define(glue, "_receive", &Receive);
        NativeFunction.Define(glue, "_send", &Send);
        NativeFunction.Define(glue, "_complete", &Complete);
        NativeFunction.Define(glue, "_ws_accept", &WsAccept);
        NativeFunction.Define(glue, "_ws_send", &WsSend);
        NativeFunction.Define(glue, "_ws_close", &WsClose);
        NativeFunction.Define(glue, "_ready", &Ready);
        NativeLog.Install(glue);
        _clientDisconnected = Interop.GetAttr(glue, "ClientDisconnected").Store();
    }

    // _drain() -> [event tuples]
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static nint Drain(PyBorrowed self, PyBorrowed* args, nint nargs)
    {
        try
        {
            return _server!.Drain().Steal();
        }
        catch (Exception e)
        {
            return Raise(e);
        }
    }

    // _receive(id) -> (bytes, more) now; None: a body-read event follows; False: the body failed or the client left.
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static nint Receive(PyBorrowed self, PyBorrowed* args, nint nargs)
    {
        try
        {
            if (Cycle(args, nargs, 1) is not { } cycle) return 0;
            int n;
            try
            {
                if (!cycle.TryRead(out n)) return Interop.NewNone().Steal();
            }
            catch (Exception e) when (e is ClientGoneException or BodyReadException)
            {
                return Interop.Bool(false).Steal();
            }
            using var data = Interop.Bytes(cycle.Buffered(n));
            using var more = Interop.Bool(cycle.MoreBody(n));
            return Containers.Tuple(data, more).Steal();
        }
        catch (Exception e)
        {
            return Raise(e);
        }
    }

    // _send(id, status|None, headers|None, body, more) -> True when sent, False when a flush event follows.
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static nint Send(PyBorrowed self, PyBorrowed* args, nint nargs)
    {
        try
        {
            if (Cycle(args, nargs, 5) is not { } cycle) return 0;
            var exchange = cycle.Exchange;
            var more = Interop.IsTrue(args[4]) == 1;
            if (!Interop.TryGetBytes(args[3], out var body)) return 0;
            if (!Interop.IsNone(args[1]))
            {
                var headers = Headers(args[2]);
                if (headers == null) return 0;
                var status = (int)Interop.AsLong(args[1]);
                // The whole body in one message: it is sent with a Content-Length, not chunked.
                if (!more && status is >= 200 and not (204 or 304) && !exchange.Method.Equals("HEAD", StringComparison.OrdinalIgnoreCase)
                    && !headers.Exists(h => h.Key.Equals("content-length", StringComparison.OrdinalIgnoreCase)
                        || h.Key.Equals("transfer-encoding", StringComparison.OrdinalIgnoreCase)))
                    headers.Add(new("content-length", body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture)));
                exchange.Start(status, "", headers);
            }
            exchange.Append(body);
            // The last body is flushed by Kestrel as the exchange completes.
            if (!more) return Interop.Bool(true).Steal();
            return Interop.Bool(cycle.TryFlush()).Steal();
        }
        catch (Exception e)
        {
            return Raise(e);
        }
    }

    // _complete(id, outcome) -> None
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static nint Complete(PyBorrowed self, PyBorrowed* args, nint nargs)
    {
        try
        {
            if (Cycle(args, nargs, 2) is not { } cycle) return 0;
            _server!.Complete(cycle, (ExchangeOutcome)Interop.AsLong(args[1]));
            return Interop.NewNone().Steal();
        }
        catch (Exception e)
        {
            return Raise(e);
        }
    }

    // _ws_accept(id, subprotocol|None, headers) -> None; an accept event follows.
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static nint WsAccept(PyBorrowed self, PyBorrowed* args, nint nargs)
    {
        try
        {
            if (Cycle(args, nargs, 3) is not { } cycle) return 0;
            var subprotocol = Interop.IsNone(args[1]) ? null : Interop.AsString(args[1]);
            var headers = Headers(args[2]);
            if (headers == null) return 0;
            var server = _server!;
            cycle.Accept(subprotocol, headers, server.Options, server.Opened);
            return Interop.NewNone().Steal();
        }
        catch (Exception e)
        {
            return Raise(e);
        }
    }

    // _ws_send(id, data: bytes, text: bool) -> True when sent, False when a send event follows.
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static nint WsSend(PyBorrowed self, PyBorrowed* args, nint nargs)
    {
        try
        {
            if (Cycle(args, nargs, 3) is not { } cycle) return 0;
            if (!Interop.TryGetBytes(args[1], out var data)) return 0;
            return Interop.Bool(cycle.TrySend(data.ToArray(), Interop.IsTrue(args[2]) == 1)).Steal();
        }
        catch (Exception e)
        {
            return Raise(e);
        }
    }

    // _ws_close(id, code, reason) -> None
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static nint WsClose(PyBorrowed self, PyBorrowed* args, nint nargs)
    {
        try
        {
            if (Cycle(args, nargs, 3) is not { } cycle) return 0;
            _ = cycle.CloseAsync((int)Interop.AsLong(args[1]), Interop.AsString(args[2]) ?? "");
            return Interop.NewNone().Steal();
        }
        catch (Exception e)
        {
            return Raise(e);
        }
    }

    // _ready() -> None: lifespan startup is done; the worker may accept.
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static nint Ready(PyBorrowed self, PyBorrowed* args, nint nargs)
    {
        _server!.Ready();
        return Interop.NewNone().Steal();
    }

    // ---- helpers (GIL held) ----

    private static AsgiCycle? Cycle(PyBorrowed* args, nint nargs, int expected)
    {
        if (nargs != expected)
        {
            PythonException.Raise("PyExc_TypeError", $"expected {expected} arguments, got {nargs}");
            return null;
        }
        var cycle = _server!.Find(Interop.AsLong(args[0]));
        if (cycle == null) PythonException.Raise("PyExc_RuntimeError", "the ASGI connection is already finished");
        return cycle;
    }

    /// <summary>[(bytes, bytes)] as latin-1 text; null with TypeError set when an item is not a pair of bytes.</summary>
    private static List<KeyValuePair<string, string>>? Headers(PyBorrowed headers)
    {
        var count = Containers.Length(headers);
        if (count < 0) return null;
        var list = new List<KeyValuePair<string, string>>((int)count);
        for (nint i = 0; i < count; i++)
        {
            using var pair = Containers.ItemOf(headers, i);
            using var name = Containers.ItemOf(pair, 0);
            using var value = Containers.ItemOf(pair, 1);
            // Not bytes: the TypeError stays set for the app to see.
            if (!Interop.TryGetBytes(name, out var n) || !Interop.TryGetBytes(value, out var v)) return null;
            list.Add(new(Encoding.Latin1.GetString(n), Encoding.Latin1.GetString(v)));
        }
        return list;
    }

    private static nint Raise(Exception e)
    {
        switch (e)
        {
            case PythonErrorPending:
                break;
            case PythonException pe:
                PythonException.Raise("PyExc_RuntimeError", pe.Message);
                break;
            case ClientGoneException:
                PythonException.Raise(_clientDisconnected!, e.Message);
                break;
            case InvalidOperationException:
                // Kestrel refusing what the app asked for (a header after the response started...).
                PythonException.Raise("PyExc_RuntimeError", e.Message);
                break;
            default:
                ErrorLog.Error($"Internal error in the server: {e}");
                PythonException.Raise("PyExc_OSError", e.Message);
                break;
        }
        return 0;
    }
}
