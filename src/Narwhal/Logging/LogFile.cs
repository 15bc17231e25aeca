using System.Text;
using Microsoft.Win32.SafeHandles;
using Narwhal.Posix;

namespace Narwhal.Logging;

/// <summary>
/// A log destination: stdout, stderr or a file opened for append. Every line is one write(2)
/// on an O_APPEND descriptor, so the master and its workers can share a file without
/// interleaving inside lines. <see cref="Reopen"/> is USR1: after logrotate moved the file.
/// </summary>
internal sealed unsafe partial class LogFile
{
    private readonly string _path;
    private readonly object _lock = new();
    private SafeFileHandle _handle;

    private LogFile(string path, SafeFileHandle handle)
    {
        _path = path;
        _handle = handle;
    }

    public bool IsFile => _path is not ("-" or "stderr" or "stdout");
    public int Fd => (int)_handle.DangerousGetHandle();

    /// <summary><paramref name="dash"/> is what "-" means here: 2 (stderr) for the error log, 1 (stdout) for the access log.</summary>
    public static LogFile Open(string path, int dash)
    {
        if (path == "-") return new LogFile(path, new SafeFileHandle(dash, ownsHandle: false));
        return new LogFile(path, OpenAppend(path));
    }

    private static SafeFileHandle OpenAppend(string path)
    {
        var full = System.IO.Path.GetFullPath(path);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        // open(2) itself: .NET's FileMode.Append seeks to the end once and does not set
        // O_APPEND, so each process would write from its own offset over the others' lines.
        // 0666 before the umask, as Python's open(path, 'a') in Gunicorn.
        var fd = open(full, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0x1B6);
        if (fd < 0)
        {
            var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            var reason = System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(errno);
            throw errno is 13 or 1 /* EACCES, EPERM */ ? new UnauthorizedAccessException(reason) : new IOException(reason);
        }
        return new SafeFileHandle(fd, ownsHandle: true);
    }

    private const int O_WRONLY = 0x1, O_CREAT = 0x40, O_APPEND = 0x400, O_CLOEXEC = 0x80000;

    [System.Runtime.InteropServices.LibraryImport("libc", SetLastError = true, StringMarshalling = System.Runtime.InteropServices.StringMarshalling.Utf8)]
    private static partial int open(string path, int flags, int mode);

    /// <summary>Lets the workers' user reopen the file after a rotation (Gunicorn chowns its log files too).</summary>
    public void Chown(int uid, int gid)
    {
        if (!IsFile || (uid == Unix.EffectiveUserId && gid == Unix.EffectiveGroupId)) return;
        try { Unix.Chown(System.IO.Path.GetFullPath(_path), uid, gid); }
        catch (IOException) { /* e.g. /dev/null: nothing to own */ }
    }

    public void Write(string text) => Write(Encoding.UTF8.GetBytes(text));

    public void Write(ReadOnlySpan<byte> bytes)
    {
        lock (_lock)
        {
            // write(2), not pwrite: stdout may be a shell redirect without O_APPEND, where
            // an offset would overwrite; errors (a full disk, a closed pipe) are dropped.
            fixed (byte* p = bytes)
            {
                var done = 0;
                while (done < bytes.Length)
                {
                    var n = write(Fd, p + done, bytes.Length - done);
                    if (n <= 0) break;
                    done += (int)n;
                }
            }
        }
    }

    [System.Runtime.InteropServices.LibraryImport("libc")]
    private static partial nint write(int fd, byte* buffer, nint count);

    public void Reopen()
    {
        if (!IsFile) return;
        var fresh = OpenAppend(_path);
        SafeFileHandle old;
        lock (_lock)
        {
            old = _handle;
            _handle = fresh;
        }
        old.Dispose();
    }
}
