using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Narwhal.Http;
using Narwhal.Logging;
using Narwhal.Python;

namespace Narwhal.Loop;

/// <summary>
/// The native functions every event-loop glue calls on the loop thread: <c>_drain</c>,
/// <c>_receive</c>, <c>_complete</c>, <c>_ready</c>, <c>_called</c>, <c>_stopped</c>; the
/// protocol's own (ASGI's <c>_send</c>, WSGI's <c>_start</c>/<c>_write</c>...) are defined beside
/// them by its bridge with the helpers here. None of them blocks: what cannot finish at once
/// completes later as an event. Every .NET failure becomes a Python exception; nothing
/// unwinds through Python's frames. They call no Python code that could switch greenlets
/// while .NET frames are on the loop thread's stack.
/// </summary>
internal static unsafe class LoopBridge
{
    private static LoopServer? _server;
    private static PyStored? _clientDisconnected;

    public static LoopServer Server => _server!;

    /// <summary>Sets the common natives on <paramref name="glue"/>, whose ClientDisconnected type send failures raise.</summary>
    public static void Install(PyBorrowed glue, LoopServer server)
    {
        _server = server;
        NativeFunction.Define(glue, "_drain", &Drain);
        NativeFunction.Define(glue, "_receive", &Receive);
        NativeFunction.Define(glue, "_complete", &Complete);
        NativeFunction.Define(glue, "_ready", &Ready);
        NativeFunction.Define(glue, "_called", &Called);
        NativeFunction.Define(glue, "_stopped", &Stopped);
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

    // _ready() -> None: the app is ready (ASGI: lifespan startup done); the worker may accept.
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static nint Ready(PyBorrowed self, PyBorrowed* args, nint nargs)
    {
        _server!.Ready();
        return Interop.NewNone().Steal();
    }

    // _called(token) -> None: a call posted from another thread has run.
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static nint Called(PyBorrowed self, PyBorrowed* args, nint nargs)
    {
        try
        {
            if (nargs != 1) return Raise(new ArgumentException("_called takes one argument"));
            _server!.Called(Interop.AsLong(args[0]));
            return Interop.NewNone().Steal();
        }
        catch (Exception e)
        {
            return Raise(e);
        }
    }

    // _stopped() -> None: the loop takes no more events; calls posted from now on run without it.
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static nint Stopped(PyBorrowed self, PyBorrowed* args, nint nargs)
    {
        _server!.Stopped();
        return Interop.NewNone().Steal();
    }

    // ---- helpers for the protocol bridges (GIL held) ----

    /// <summary>The cycle args[0] names; null with the Python error set when it is gone or the arity is wrong.</summary>
    public static LoopCycle? Cycle(PyBorrowed* args, nint nargs, int expected)
    {
        if (nargs != expected)
        {
            PythonException.Raise("PyExc_TypeError", $"expected {expected} arguments, got {nargs}");
            return null;
        }
        var cycle = _server!.Find(Interop.AsLong(args[0]));
        if (cycle == null) PythonException.Raise("PyExc_RuntimeError", "the connection is already finished");
        return cycle;
    }

    /// <summary>Sets the Python exception that matches a .NET failure; returns NULL for the native to return.</summary>
    public static nint Raise(Exception e)
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
            case BodyReadException:
                PythonException.Raise("PyExc_OSError", e.Message);
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
