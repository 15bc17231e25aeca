using System.Runtime.InteropServices;

namespace Narwhal.Posix;

/// <summary>
/// Changes to the process environment that must reach the C environment too: the embedded
/// Python reads os.environ from it, and children inherit it.
/// </summary>
internal static partial class Environ
{
    public static void Set(string name, string value)
    {
        setenv(name, value, 1);
        Environment.SetEnvironmentVariable(name, value);
    }

    public static void Unset(string name)
    {
        unsetenv(name);
        Environment.SetEnvironmentVariable(name, null);
    }

    /// <summary>-e KEY=VALUE pairs (raw_env).</summary>
    public static void Apply(IEnumerable<string> pairs)
    {
        foreach (var pair in pairs)
        {
            var eq = pair.IndexOf('=');
            Set(pair[..eq], pair[(eq + 1)..]);
        }
    }

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int setenv(string name, string value, int overwrite);

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int unsetenv(string name);
}
