using System.Runtime.InteropServices;

namespace Narwhal.Posix;

/// <summary>
/// A few KiB of memory shared by processes: an anonymous file (memfd_create), mapped
/// MAP_SHARED. One process creates it and hands its descriptor on at spawn; each maps it.
/// Its ints are read and written with atomic and volatile operations through
/// <see cref="Int32At"/>, which work across processes as across threads.
/// </summary>
internal sealed unsafe partial class SharedMemory : IDisposable
{
    private const int MFD_CLOEXEC = 1, PROT_READ = 1, PROT_WRITE = 2, MAP_SHARED = 1;
    private static readonly nint MapFailed = -1;

    private byte* _base;

    /// <summary>The descriptor, or -1 once <see cref="CloseDescriptor"/> closed it (the mapping stays).</summary>
    public int Fd { get; private set; }

    public int Size { get; }

    private SharedMemory(int fd, byte* mapped, int size)
    {
        Fd = fd;
        _base = mapped;
        Size = size;
    }

    /// <summary>A fresh zero-filled region of <paramref name="size"/> bytes; its descriptor is close-on-exec.</summary>
    public static SharedMemory Create(string name, int size)
    {
        var fd = memfd_create(name, MFD_CLOEXEC);
        if (fd < 0) throw Error("memfd_create");
        if (ftruncate(fd, size) != 0)
        {
            var e = Error("ftruncate");
            close(fd);
            throw e;
        }
        return Map(fd, size);
    }

    /// <summary>Maps a region another process created and handed over by descriptor.</summary>
    public static SharedMemory Open(int fd, int size) => Map(fd, size);

    private static SharedMemory Map(int fd, int size)
    {
        var mapped = mmap(null, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if ((nint)mapped == MapFailed)
        {
            var e = Error("mmap");
            close(fd);
            throw e;
        }
        return new SharedMemory(fd, (byte*)mapped, size);
    }

    /// <summary>The int at a 4-byte aligned offset, for Volatile and Interlocked.</summary>
    public ref int Int32At(int offset)
    {
        if ((uint)offset > (uint)(Size - sizeof(int)) || (offset & 3) != 0) throw new ArgumentOutOfRangeException(nameof(offset));
        ObjectDisposedException.ThrowIf(_base == null, this);
        return ref *(int*)(_base + offset);
    }

    /// <summary>Closes the descriptor once it is mapped and no child needs it; the memory stays.</summary>
    public void CloseDescriptor()
    {
        if (Fd < 0) return;
        close(Fd);
        Fd = -1;
    }

    public void Dispose()
    {
        if (_base == null) return;
        munmap(_base, Size);
        _base = null;
        CloseDescriptor();
    }

    private static IOException Error(string call) => new($"{call} failed: errno {Marshal.GetLastPInvokeError()}");

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int memfd_create(string name, int flags);
    [LibraryImport("libc", SetLastError = true)] private static partial int ftruncate(int fd, long length);
    [LibraryImport("libc", SetLastError = true)] private static partial void* mmap(void* addr, nint length, int prot, int flags, int fd, long offset);
    [LibraryImport("libc")] private static partial int munmap(void* addr, nint length);
    [LibraryImport("libc")] private static partial int close(int fd);
}
