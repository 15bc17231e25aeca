using System.Runtime.InteropServices;
using System.Text;

namespace Narwhal.Master;

/// <summary>
/// -D/--daemon without fork: starts this binary again in a new session (no controlling
/// terminal), with stdin, stdout and stderr on /dev/null as Gunicorn's daemonize does, and
/// lets the caller exit. The new process knows it is the daemon by <see cref="Variable"/>.
/// </summary>
internal static unsafe partial class Daemon
{
    public const string Variable = "NARWHAL_DAEMON";

    private const short POSIX_SPAWN_SETSID = 0x80;
    private const int O_RDONLY = 0, O_WRONLY = 1;

    public static bool IsDaemon => Environment.GetEnvironmentVariable(Variable) == "1";

    /// <param name="keepStdio">--enable-stdio-inheritance: stdout and stderr stay where they are.</param>
    public static void Detach(string[] args, bool keepStdio)
    {
        var exe = Environment.ProcessPath!;
        var argv = new List<string> { exe };
        argv.AddRange(args);
        var env = Environment.GetEnvironmentVariables().Keys.Cast<string>()
            .Where(k => k != Variable)
            .Select(k => $"{k}={Environment.GetEnvironmentVariable(k)}")
            .Append($"{Variable}=1").ToList();

        // Opaque glibc structures (336 and 80 bytes on x86_64); allocated generously.
        var attr = NativeMemory.AllocZeroed(1024);
        var actions = NativeMemory.AllocZeroed(1024);
        var strings = new List<nint>();
        try
        {
            Check(posix_spawnattr_init(attr), "posix_spawnattr_init");
            Check(posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSID), "posix_spawnattr_setflags");
            Check(posix_spawn_file_actions_init(actions), "posix_spawn_file_actions_init");
            Check(posix_spawn_file_actions_addopen(actions, 0, "/dev/null", O_RDONLY, 0), "addopen");
            if (!keepStdio)
            {
                Check(posix_spawn_file_actions_addopen(actions, 1, "/dev/null", O_WRONLY, 0), "addopen");
                Check(posix_spawn_file_actions_adddup2(actions, 1, 2), "adddup2");
            }
            var argvp = CStrings(argv, strings);
            var envp = CStrings(env, strings);
            int pid;
            Check(posix_spawn(&pid, exe, actions, attr, argvp, envp), "posix_spawn");
        }
        finally
        {
            posix_spawn_file_actions_destroy(actions);
            posix_spawnattr_destroy(attr);
            NativeMemory.Free(attr);
            NativeMemory.Free(actions);
            foreach (var p in strings) NativeMemory.Free((void*)p);
        }
    }

    private static byte** CStrings(List<string> items, List<nint> owned)
    {
        var array = (byte**)NativeMemory.AllocZeroed((nuint)(items.Count + 1), (nuint)sizeof(nint));
        owned.Add((nint)array);
        for (var i = 0; i < items.Count; i++)
        {
            var bytes = Encoding.UTF8.GetBytes(items[i] + "\0");
            var p = (byte*)NativeMemory.Alloc((nuint)bytes.Length);
            bytes.CopyTo(new Span<byte>(p, bytes.Length));
            owned.Add((nint)p);
            array[i] = p;
        }
        return array;
    }

    private static void Check(int rc, string what)
    {
        if (rc != 0) throw new IOException($"{what} failed: {Marshal.GetPInvokeErrorMessage(rc)}");
    }

    [LibraryImport("libc")] private static partial int posix_spawnattr_init(void* attr);
    [LibraryImport("libc")] private static partial int posix_spawnattr_destroy(void* attr);
    [LibraryImport("libc")] private static partial int posix_spawnattr_setflags(void* attr, short flags);
    [LibraryImport("libc")] private static partial int posix_spawn_file_actions_init(void* actions);
    [LibraryImport("libc")] private static partial int posix_spawn_file_actions_destroy(void* actions);
    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int posix_spawn_file_actions_addopen(void* actions, int fd, string path, int flags, int mode);
    [LibraryImport("libc")] private static partial int posix_spawn_file_actions_adddup2(void* actions, int fd, int newfd);
    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int posix_spawn(int* pid, string path, void* actions, void* attr, byte** argv, byte** envp);
}
