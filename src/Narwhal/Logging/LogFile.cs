using System.Text;
using Microsoft.Win32.SafeHandles;
using Narwhal.Posix;

namespace Narwhal.Logging;

/// <summary>
/// A log destination: stdout, stderr or a file. The master and every worker open the file
/// themselves, with O_APPEND in the open(2) flags, and write each line with one write(2): the
/// kernel then moves to the end of the file and writes in one step, so lines from all the
/// processes land whole, one after another, none over another. (A seek to the end at open, as
/// .NET's FileMode.Append does, is not that: each process then writes at its own offset, over
/// the others' lines.) On a pipe or FIFO the same holds for lines up to PIPE_BUF (4096 bytes);
/// a longer line may interleave with another process's. <see cref="Reopen"/> is USR1: after
/// logrotate moved the file.
/// </summary>
internal sealed unsafe partial class LogFile
{
    private readonly string _path;
    private readonly object _lock = new();
    private SafeFileHandle _handle;
    private bool _retired;
    private LogFile? _successor;

    private LogFile(string path, SafeFileHandle handle, bool isFile)
    {
        _path = path;
        _handle = handle;
        IsFile = isFile;
    }

    public bool IsFile { get; }
    public int Fd => (int)_handle.DangerousGetHandle();

    /// <summary><paramref name="dash"/> is what "-" means here: 2 (stderr) for the error log, 1 (stdout) for the access log.</summary>
    public static LogFile Open(string path, int dash)
    {
        if (path == "-") return new LogFile(path, new SafeFileHandle(dash, ownsHandle: false), isFile: false);
        // Absolute from here on: a reopen names the file opened now, wherever the process is then.
        var full = System.IO.Path.GetFullPath(path);
        return new LogFile(full, OpenAppend(full), isFile: path is not ("stderr" or "stdout"));
    }

    private static SafeFileHandle OpenAppend(string full)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        // 0666 less the umask: what Gunicorn's open(path, "a") creates.
        var fd = Unix.OpenAppend(full, 0x1b6);
        return new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>Lets the workers' user reopen the file after a rotation (Gunicorn chowns its log files too).</summary>
    public void Chown(int uid, int gid)
    {
        if (!IsFile || (uid == Unix.EffectiveUserId && gid == Unix.EffectiveGroupId)) return;
        try { Unix.Chown(_path, uid, gid); }
        catch (IOException) { /* e.g. /dev/null: nothing to own */ }
    }

    public void Write(string text) => Write(Encoding.UTF8.GetBytes(text));

    public void Write(ReadOnlySpan<byte> bytes)
    {
        LogFile? successor;
        lock (_lock)
        {
            if (!_retired)
            {
                WriteAll(bytes);
                return;
            }
            successor = _successor;
        }
        successor?.Write(bytes);
    }

    private void WriteAll(ReadOnlySpan<byte> bytes)
    {
        // The whole text in one write(2): callers pass whole lines. write, not pwrite: stdout
        // may be a shell redirect without O_APPEND, where an offset would overwrite. The loop
        // goes on only after a short write (a full disk, a signal during a pipe write); errors
        // (a full disk, a closed pipe) are dropped.
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

    /// <summary>
    /// HUP: the reloaded settings opened <paramref name="successor"/> (null: no such log any
    /// more) and this file closes. A thread still holding this one writes to the successor, so
    /// no line is lost and none goes to a closed, perhaps reused, descriptor.
    /// </summary>
    public void Retire(LogFile? successor)
    {
        if (ReferenceEquals(successor, this)) return;
        lock (_lock)
        {
            if (_retired) return;
            _retired = true;
            _successor = successor;
            _handle.Dispose(); // a no-op for stdout and stderr, which are not owned
        }
    }

    [System.Runtime.InteropServices.LibraryImport("libc")]
    private static partial nint write(int fd, byte* buffer, nint count);

    /// <summary>
    /// Opens the path afresh and swaps descriptors under the write lock: a line written
    /// meanwhile lands whole, in the old file or in the new one. If the path cannot be opened
    /// (a directory gone, permissions), the old file stays in use and the error says why.
    /// </summary>
    public void Reopen()
    {
        if (!IsFile || _retired) return;
        SafeFileHandle fresh;
        try
        {
            fresh = OpenAppend(_path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            ErrorLog.Error($"Can't reopen {_path}, still writing to the old file: {e.Message}");
            return;
        }
        SafeFileHandle old;
        lock (_lock)
        {
            old = _retired ? fresh : _handle; // retired meanwhile by a HUP: the fresh one is not needed
            if (!_retired) _handle = fresh;
        }
        old.Dispose();
    }
}
