using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Narwhal.Python;

namespace Narwhal.Logging;

/// <summary>
/// <c>_log(level, text)</c>, set on each of Narwhal's own Python modules that writes to the
/// error log (the WSGI and ASGI glue, the config file's): level -1 is raw text, 41 an exception.
/// </summary>
internal static unsafe class NativeLog
{
    /// <summary>Defines <c>_log</c> on <paramref name="module"/>. Hold the GIL.</summary>
    public static void Install(PyBorrowed module) => NativeFunction.Define(module, "_log", &Log);

    // The glue's level for log.exception(): ERROR, counted apart by statsd as Gunicorn does.
    private const int ExceptionLevel = 41;

    // _log(level, text) -> None
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static nint Log(PyBorrowed self, PyBorrowed* args, nint nargs)
    {
        try
        {
            if (nargs != 2)
            {
                PythonException.Raise("PyExc_TypeError", "_log() takes 2 arguments");
                return 0;
            }
            var level = (int)Interop.AsLong(args[0]);
            var text = Interop.AsString(args[1]) ?? "";
            if (level < 0) ErrorLog.WriteRaw(text);
            else if (level == ExceptionLevel) ErrorLog.Exception(text);
            else ErrorLog.Write((LogLevel)level, text);
            return Interop.NewNone().Steal();
        }
        catch (Exception e)
        {
            PythonException.Raise("PyExc_OSError", e.Message);
            return 0;
        }
    }
}
