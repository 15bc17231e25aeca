namespace Narwhal.Posix;

/// <summary>
/// A process's resident set size, read from /proc/PID/statm (field 2, in pages; see proc(5)):
/// one small read that works whatever the process is doing, stuck in a request included.
/// </summary>
internal static class ResidentMemory
{
    /// <summary>Bytes resident, or null when the process is gone (or /proc is not there).</summary>
    public static long? Of(int pid)
    {
        try
        {
            var statm = File.ReadAllText($"/proc/{pid}/statm");
            var fields = statm.Split(' ', 3);
            return fields.Length > 1 && long.TryParse(fields[1], out var pages) ? pages * Environment.SystemPageSize : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
