using Narwhal.Python;

namespace Narwhal.Logging;

/// <summary>
/// --capture-output puts stdout and stderr on the error log, which the master and every worker
/// share. Python buffers sys.stdout in 8 KiB blocks when it is not a terminal and flushes them
/// wherever a block ends, mid-line, so the prints of two processes would interleave inside
/// lines; under PYTHONUNBUFFERED every print() is several write(2)s (the text, then "\n").
/// Line buffering without write-through makes each print() of up to 8 KiB one write(2), and
/// the error log's O_APPEND keeps those whole. Longer prints may be split.
/// </summary>
internal static class LineBufferedStdio
{
    private static bool _wanted;

    /// <summary>From now on in this process: now if Python runs, else when it starts.</summary>
    public static void Want()
    {
        if (_wanted) return;
        _wanted = true;
        if (!EmbeddedPython.IsStarted)
        {
            EmbeddedPython.Started += Apply; // called with the GIL held
            return;
        }
        using var gil = Gil.Take();
        Apply();
    }

    private static void Apply()
    {
        foreach (var name in (ReadOnlySpan<string>)["stdout", "stderr"])
        {
            try
            {
                using var sys = Interop.Import("sys");
                using var stream = Interop.GetAttr(sys, name);
                using var reconfigure = Interop.GetAttr(stream, "reconfigure");
                using var args = Containers.Tuple();
                using var kwargs = Containers.Dict();
                using (var key = Interop.Str("line_buffering"))
                using (var on = Interop.Bool(true))
                    Containers.Set(kwargs, key, on);
                using (var key = Interop.Str("write_through"))
                using (var off = Interop.Bool(false))
                    Containers.Set(kwargs, key, off);
                Interop.CallWithKeywords(reconfigure, args, kwargs).Dispose();
            }
            catch (PythonException e) when (e.TypeName == "AttributeError")
            {
                // None, or an object an app or a hook put there: not ours to change.
            }
            catch (PythonException e)
            {
                ErrorLog.Warning($"capture_output: could not line-buffer sys.{name}: {e.TypeName}: {e.PythonMessage}");
            }
        }
    }
}
