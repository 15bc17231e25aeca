using System.Text;

namespace Narwhal.Posix;

/// <summary>
/// Process titles as Gunicorn shows them with setproctitle (<c>narwhal: master [app]</c>), so
/// <c>ps</c>, <c>top</c> and scripts that find workers by title keep working. Linux reads
/// /proc/PID/cmdline from the original argv strings, so the title overwrites that memory;
/// it can be no longer than the original command line.
/// </summary>
internal static unsafe class ProcessTitle
{
    public static void Set(string title)
    {
        try
        {
            var (start, end) = ArgvArea();
            if (start == 0 || end <= start) return;
            var area = new Span<byte>((void*)start, (int)Math.Min(end - start, 4096));
            var text = Encoding.UTF8.GetBytes("narwhal: " + title);
            var n = Math.Min(text.Length, area.Length - 1);
            text.AsSpan(0, n).CopyTo(area);
            area[n..].Clear();
        }
        catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException)
        {
            // No /proc: titles are cosmetic, serving goes on.
        }
    }

    /// <summary>arg_start and arg_end, fields 48 and 49 of /proc/self/stat (see proc(5)).</summary>
    private static (long Start, long End) ArgvArea()
    {
        var stat = File.ReadAllText("/proc/self/stat");
        // Field 2 (comm) is in parentheses and may hold spaces: count fields after its end.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[48 - 3]), long.Parse(fields[49 - 3]));
    }
}
