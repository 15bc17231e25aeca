using System.Runtime.InteropServices;

namespace Narwhal.Posix;

/// <summary>The few libc calls the process model needs that .NET does not expose.</summary>
internal static unsafe partial class Unix
{
    public const int SIGHUP = 1, SIGINT = 2, SIGQUIT = 3, SIGABRT = 6, SIGKILL = 9, SIGUSR1 = 10,
        SIGUSR2 = 12, SIGTERM = 15, SIGCHLD = 17, SIGTTIN = 21, SIGTTOU = 22, SIGWINCH = 28;

    private const int F_GETFD = 1, F_SETFD = 2, FD_CLOEXEC = 1;

    public static string SignalName(int signal) => signal switch
    {
        SIGHUP => "SIGHUP", SIGINT => "SIGINT", SIGQUIT => "SIGQUIT", SIGABRT => "SIGABRT",
        SIGKILL => "SIGKILL", SIGUSR1 => "SIGUSR1", SIGUSR2 => "SIGUSR2", SIGTERM => "SIGTERM",
        SIGCHLD => "SIGCHLD", SIGTTIN => "SIGTTIN", SIGTTOU => "SIGTTOU", SIGWINCH => "SIGWINCH",
        11 => "SIGSEGV", 7 => "SIGBUS", 4 => "SIGILL", 8 => "SIGFPE", 13 => "SIGPIPE",
        _ => $"signal {signal}",
    };

    /// <summary>Sends a signal; false if the process no longer exists.</summary>
    public static bool Kill(int pid, int signal) => kill(pid, signal) == 0;

    public static bool IsAlive(int pid) => kill(pid, 0) == 0 || Marshal.GetLastPInvokeError() == 1 /* EPERM */;

    public static int ParentPid() => getppid();

    /// <summary>Lets a descriptor survive exec (for listeners and heartbeat files handed to children).</summary>
    public static void SetInheritable(int fd, bool inheritable)
    {
        var flags = fcntl(fd, F_GETFD, 0);
        if (flags < 0) throw new IOException($"fcntl({fd}) failed: errno {Marshal.GetLastPInvokeError()}");
        flags = inheritable ? flags & ~FD_CLOEXEC : flags | FD_CLOEXEC;
        if (fcntl(fd, F_SETFD, flags) < 0) throw new IOException($"fcntl({fd}) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    public static bool IsOpen(int fd) => fcntl(fd, F_GETFD, 0) >= 0;

    public static int SetUmask(int mask) => umask(mask);

    /// <summary>True when the process has a controlling terminal (a terminal resize would send it SIGWINCH).</summary>
    public static bool HasControllingTerminal()
    {
        var fd = open("/dev/tty", 2 /* O_RDWR */ | 0x80000 /* O_CLOEXEC */);
        if (fd < 0) return false;
        close(fd);
        return true;
    }

    public static int? UserId(string name)
    {
        var pw = getpwnam(name);
        return pw == null ? null : *(int*)((byte*)pw + 16); // struct passwd: name, passwd, uid, gid
    }

    public static string? UserName(int uid)
    {
        var pw = getpwuid(uid);
        return pw == null ? null : Marshal.PtrToStringUTF8(*(nint*)pw);
    }

    public static int? GroupId(string name)
    {
        var gr = getgrnam(name);
        return gr == null ? null : *(int*)((byte*)gr + 16); // struct group: name, passwd, gid
    }

    public static int EffectiveUserId => (int)geteuid();
    public static int EffectiveGroupId => (int)getegid();

    /// <summary>Drops to uid/gid as Gunicorn's set_owner_process does: group first, then user.</summary>
    public static void SetOwner(int uid, int gid, bool initGroups)
    {
        if (gid != (int)getgid() || initGroups)
        {
            var user = initGroups ? UserName(uid) : null;
            if (user != null)
            {
                if (initgroups(user, gid) != 0) throw Error("initgroups");
            }
            else if (gid != (int)getgid() && setgroups(0, null) != 0 && Marshal.GetLastPInvokeError() != 1)
            {
                throw Error("setgroups");
            }
            if (gid != (int)getgid() && setgid(gid) != 0) throw Error("setgid");
        }
        if (uid != (int)getuid() && setuid(uid) != 0) throw Error("setuid");
    }

    public static void Chown(string path, int uid, int gid)
    {
        if (chown(path, uid, gid) != 0) throw Error($"chown {path}");
    }

    private static IOException Error(string what) =>
        new($"{what} failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");

    // Linux's values (the same on x64 and arm64).
    private const int O_WRONLY = 0x1, O_CREAT = 0x40, O_APPEND = 0x400, O_CLOEXEC = 0x80000;

    /// <summary>
    /// open(2) for writing at the end, always: O_APPEND makes every write(2) go to the end of the
    /// file as it is then, so processes sharing the file never write over each other.
    /// </summary>
    public static int OpenAppend(string path, int mode)
    {
        int fd;
        do fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, mode);
        while (fd < 0 && Marshal.GetLastPInvokeError() == EINTR);
        if (fd >= 0) return fd;
        var errno = Marshal.GetLastPInvokeError();
        var message = Marshal.GetPInvokeErrorMessage(errno);
        // The callers report these as a bad setting (cannot open the log file).
        if (errno is EACCES or EPERM or EROFS) throw new UnauthorizedAccessException($"{message}: '{path}'");
        throw new IOException($"{message}: '{path}'");
    }

    private const int EPERM = 1, EINTR = 4, EACCES = 13, EROFS = 30;

    /// <summary>Points descriptor <paramref name="target"/> at what <paramref name="source"/> refers to (capture_output).</summary>
    public static void Dup2(int source, int target)
    {
        if (dup2(source, target) < 0) throw new IOException($"dup2({source}, {target}) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    [LibraryImport("libc", SetLastError = true)] private static partial int kill(int pid, int sig);
    [LibraryImport("libc")] private static partial int getppid();
    [LibraryImport("libc", SetLastError = true)] private static partial int fcntl(int fd, int cmd, int arg);
    [LibraryImport("libc")] private static partial int umask(int mask);
    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)] private static partial int open(string path, int flags);
    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] private static partial int open(string path, int flags, int mode);
    [LibraryImport("libc")] private static partial int close(int fd);
    [LibraryImport("libc", SetLastError = true)] private static partial int dup2(int oldfd, int newfd);
    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)] private static partial void* getpwnam(string name);
    [LibraryImport("libc")] private static partial void* getpwuid(int uid);
    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)] private static partial void* getgrnam(string name);
    [LibraryImport("libc")] private static partial uint geteuid();
    [LibraryImport("libc")] private static partial uint getegid();
    [LibraryImport("libc")] private static partial uint getuid();
    [LibraryImport("libc")] private static partial uint getgid();
    [LibraryImport("libc", SetLastError = true)] private static partial int setuid(int uid);
    [LibraryImport("libc", SetLastError = true)] private static partial int setgid(int gid);
    [LibraryImport("libc", SetLastError = true)] private static partial int setgroups(nint size, int* list);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] private static partial int initgroups(string user, int gid);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] private static partial int chown(string path, int uid, int gid);
}
