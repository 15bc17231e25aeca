using System.Runtime.InteropServices;

namespace Narwhal.Posix;

/// <summary>
/// Undoes the "ignore" dispositions a process can inherit: nohup ignores HUP, a shell without
/// job control starts background jobs with INT and QUIT ignored. Gunicorn installs its handlers
/// whatever it inherited; .NET does not: System.Native's signal code records a signal's
/// disposition the first time it installs a handler for it and, if that was SIG_IGN, never
/// installs one (PosixSignalRegistration then silently does nothing). Resetting SIG_IGN to
/// SIG_DFL before that first install lets the registrations take effect.
/// </summary>
internal static unsafe partial class InheritedSignals
{
    private const nint SigIgn = 1;

    /// <summary>
    /// The signals .NET records when its signal handling starts (the first Process, Console or
    /// PosixSignalRegistration use): INT and QUIT for the terminal, CHLD for Process (an
    /// ignored CHLD makes the kernel reap children before Process can read their exit).
    /// Reset at the very start of Main, before anything can start it.
    /// </summary>
    public static readonly int[] RecordedAtStartup = [Unix.SIGINT, Unix.SIGQUIT, Unix.SIGCHLD];

    /// <summary>
    /// Sets each of <paramref name="signals"/> that is ignored back to SIG_DFL. Call it just
    /// before registering handlers for them: in between, the default action applies (for HUP
    /// under nohup, a window of microseconds instead of the whole start-up).
    /// </summary>
    public static void Unignore(IEnumerable<int> signals)
    {
        // struct sigaction starts with sa_handler on Linux (glibc and musl, every architecture);
        // all zeroes is SIG_DFL with an empty mask and no flags. 256 bytes covers its size.
        var current = stackalloc byte[256];
        var defaults = stackalloc byte[256];
        new Span<byte>(defaults, 256).Clear();
        foreach (var signal in signals)
        {
            if (sigaction(signal, null, current) != 0) continue;
            if (*(nint*)current == SigIgn) sigaction(signal, defaults, null);
        }
    }

    [LibraryImport("libc")] private static partial int sigaction(int signum, byte* act, byte* oldact);
}
