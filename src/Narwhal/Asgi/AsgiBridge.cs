using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Narwhal.Http;
using Narwhal.Loop;
using Narwhal.Python;

namespace Narwhal.Asgi;

/// <summary>
/// The ASGI glue's own native functions, beside the loop's common ones (<see cref="LoopBridge"/>):
/// <c>_send</c>, <c>_ws_accept</c>, <c>_ws_send</c>, <c>_ws_close</c>, called on the loop thread.
/// None of them blocks: what cannot finish at once completes later as an event.
/// </summary>
internal static unsafe class AsgiBridge
{
    private static WebSocketLimits? _limits;

    public static void Install(PyBorrowed glue, LoopServer server, AsgiOptions options)
    {
        LoopBridge.Install(glue, server);
        _limits = new WebSocketLimits(options.MaxMessage, options.PingInterval, options.PingTimeout);
        NativeFunction.Define(glue, "_send", &Send);
        NativeFunction.Define(glue, "_ws_accept", &WsAccept);
        NativeFunction.Define(glue, "_ws_send", &WsSend);
        NativeFunction.Define(glue, "_ws_close", &WsClose);
    }

    // _send(id, status|None, headers|None, body, more) -> True when sent, False when a flush event follows.
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static nint Send(PyBorrowed self, PyBorrowed* args, nint nargs)
    {
        try
        {
            if (LoopBridge.Cycle(args, nargs, 5) is not { } cycle) return 0;
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
            return LoopBridge.Raise(e);
        }
    }

    // _ws_accept(id, subprotocol|None, headers) -> None; an accept event follows.
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static nint WsAccept(PyBorrowed self, PyBorrowed* args, nint nargs)
    {
        try
        {
            if (LoopBridge.Cycle(args, nargs, 3) is not { } cycle) return 0;
            var subprotocol = Interop.IsNone(args[1]) ? null : Interop.AsString(args[1]);
            var headers = Headers(args[2]);
            if (headers == null) return 0;
            cycle.Accept(subprotocol, headers, _limits!, LoopBridge.Server.Opened);
            return Interop.NewNone().Steal();
        }
        catch (Exception e)
        {
            return LoopBridge.Raise(e);
        }
    }

    // _ws_send(id, data: bytes, text: bool) -> True when sent, False when a send event follows.
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static nint WsSend(PyBorrowed self, PyBorrowed* args, nint nargs)
    {
        try
        {
            if (LoopBridge.Cycle(args, nargs, 3) is not { } cycle) return 0;
            if (!Interop.TryGetBytes(args[1], out var data)) return 0;
            return Interop.Bool(cycle.TrySend(data.ToArray(), Interop.IsTrue(args[2]) == 1)).Steal();
        }
        catch (Exception e)
        {
            return LoopBridge.Raise(e);
        }
    }

    // _ws_close(id, code, reason) -> None
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static nint WsClose(PyBorrowed self, PyBorrowed* args, nint nargs)
    {
        try
        {
            if (LoopBridge.Cycle(args, nargs, 3) is not { } cycle) return 0;
            _ = cycle.CloseAsync((int)Interop.AsLong(args[1]), Interop.AsString(args[2]) ?? "");
            return Interop.NewNone().Steal();
        }
        catch (Exception e)
        {
            return LoopBridge.Raise(e);
        }
    }

    // ---- helpers (GIL held) ----

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
}
