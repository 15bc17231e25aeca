using Narwhal.Python;

namespace Narwhal.Loop;

/// <summary>The --timeout watchdog's report of where a stuck loop is.</summary>
internal static class LoopStacks
{
    /// <summary>
    /// The loop thread's Python stack (the glue's <c>loop_stack()</c>), from another thread: a
    /// coroutine or greenlet stuck in pure Python gives up the GIL every switch interval, so
    /// this gets it; one stuck in C holding the GIL does not, and then null after <paramref name="limit"/>.
    /// </summary>
    public static string? Read(PyStored glue, TimeSpan limit)
    {
        var read = Task.Run(() =>
        {
            using var gil = Gil.Take();
            using var fn = Interop.GetAttr(glue, "loop_stack");
            using var text = Interop.Call(fn);
            return Interop.AsString(text);
        });
        try
        {
            return read.Wait(limit) ? read.Result : null;
        }
        catch (AggregateException)
        {
            return null;
        }
    }
}
