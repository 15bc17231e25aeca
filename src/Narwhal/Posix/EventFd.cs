using System.Runtime.InteropServices;

namespace Narwhal.Posix;

/// <summary>
/// A Linux eventfd, non-blocking: threads signal it, an event loop watches it for reading
/// (asyncio's <c>add_reader</c>) and clears it when it wakes.
/// </summary>
internal sealed unsafe partial class EventFd : IDisposable
{
    private const int EFD_CLOEXEC = 0x80000, EFD_NONBLOCK = 0x800;

    public int Fd { get; }

    public EventFd()
    {
        Fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (Fd < 0) throw new IOException($"eventfd failed: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>Makes the descriptor readable (adds 1 to its counter).</summary>
    public void Signal()
    {
        ulong one = 1;
        write(Fd, &one, sizeof(ulong));
    }

    /// <summary>Resets the counter, so the descriptor is no longer readable; no-op if it was not.</summary>
    public void Clear()
    {
        ulong value;
        read(Fd, &value, sizeof(ulong));
    }

    public void Dispose() => close(Fd);

    [LibraryImport("libc", SetLastError = true)] private static partial int eventfd(uint initval, int flags);
    [LibraryImport("libc")] private static partial nint write(int fd, void* buf, nint count);
    [LibraryImport("libc")] private static partial nint read(int fd, void* buf, nint count);
    [LibraryImport("libc")] private static partial int close(int fd);
}
