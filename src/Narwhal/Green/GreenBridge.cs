using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Narwhal.Logging;
using Narwhal.Loop;
using Narwhal.Python;
using Narwhal.Wsgi;

namespace Narwhal.Green;

/// <summary>
/// The green workers' natives. PEP 3333's Python side is narwhal_wsgi.py's, as for the
/// threaded worker; its I/O functions are rebound here for the hub: <c>_start</c> and
/// <c>_respond</c> (on narwhal_wsgi) only append to Kestrel's output and never block;
/// <c>_write</c> and <c>_sendfile</c> (on narwhal_green, wrapped there) return at once and,
/// when the client is slow, complete later as an event while the greenlet waits on the hub.
/// Requests are found by the loop's cycle ids, which the environ's wsgi.input carries.
/// </summary>
internal static unsafe class GreenBridge
{
    public static void Install(PyBorrowed glue, PyBorrowed wsgi, LoopServer server)
    {
        LoopBridge.Install(glue, server);
        NativeLog.Install(wsgi);
        NativeFunction.Define(wsgi, "_start", &Start);
        NativeFunction.Define(wsgi, "_respond", &Respond);
        NativeFunction.Define(glue, "_write", &Write);
        NativeFunction.Define(glue, "_sendfile", &SendFile);
        NativeFunction.Define(glue, "_atoms", &Atoms);
    }

    // _atoms(id, [(key, value)]) -> None: the environ entries the access log reads ({key}e), after the app ran.
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static nint Atoms(PyBorrowed self, PyBorrowed* args, nint nargs)
    {
        try
        {
            if (LoopBridge.Cycle(args, nargs, 2) is not { } cycle) return 0;
            var values = new Dictionary<string, string>();
            var n = Containers.Count(args[1]);
            for (nint i = 0; i < n; i++)
            {
                var pair = Containers.Item(args[1], i);
                using var k = Containers.ItemOf(pair, 0);
                using var v = Containers.ItemOf(pair, 1);
                values[Interop.AsString(k) ?? ""] = Interop.AsString(v) ?? "";
            }
            cycle.Exchange.EnvironAtoms = values;
            return Interop.NewNone().Steal();
        }
        catch (Exception e)
        {
            return LoopBridge.Raise(e);
        }
    }

    // _start(id, code, reason, headers) -> None
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static nint Start(PyBorrowed self, PyBorrowed* args, nint nargs)
    {
        try
        {
            if (LoopBridge.Cycle(args, nargs, 4) is not { } cycle) return 0;
            WsgiBridge.StartResponse(cycle.Exchange, args[1], args[2], args[3]);
            return Interop.NewNone().Steal();
        }
        catch (Exception e)
        {
            return LoopBridge.Raise(e);
        }
    }

    // _respond(id, code, reason, headers, data) -> None: a whole one-chunk response, flushed as the exchange completes.
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static nint Respond(PyBorrowed self, PyBorrowed* args, nint nargs)
    {
        try
        {
            if (LoopBridge.Cycle(args, nargs, 5) is not { } cycle) return 0;
            if (!Interop.TryGetBytes(args[4], out var data)) return 0;
            WsgiBridge.StartResponse(cycle.Exchange, args[1], args[2], args[3], data.Length);
            cycle.Exchange.Append(data);
            return Interop.NewNone().Steal();
        }
        catch (Exception e)
        {
            return LoopBridge.Raise(e);
        }
    }

    // _write(id, data, flush) -> True when done; False when a flush event follows.
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static nint Write(PyBorrowed self, PyBorrowed* args, nint nargs)
    {
        try
        {
            if (LoopBridge.Cycle(args, nargs, 3) is not { } cycle) return 0;
            if (!Interop.TryGetBytes(args[1], out var data)) return 0;
            cycle.Exchange.Append(data);
            if (Interop.IsTrue(args[2]) != 1) return Interop.Bool(true).Steal();
            return Interop.Bool(cycle.TryFlush()).Steal();
        }
        catch (Exception e)
        {
            return LoopBridge.Raise(e);
        }
    }

    // _sendfile(id, fd, offset, count) -> None; a file-sent event follows with the bytes sent (-1: failed).
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static nint SendFile(PyBorrowed self, PyBorrowed* args, nint nargs)
    {
        try
        {
            if (LoopBridge.Cycle(args, nargs, 4) is not { } cycle) return 0;
            var fd = Interop.AsLong(args[1]);
            // The greenlet holds the file open until the event: the handle does not own it.
            cycle.SendFile(new SafeFileHandle((nint)fd, ownsHandle: false), Interop.AsLong(args[2]), Interop.AsLong(args[3]));
            return Interop.NewNone().Steal();
        }
        catch (Exception e)
        {
            return LoopBridge.Raise(e);
        }
    }
}
