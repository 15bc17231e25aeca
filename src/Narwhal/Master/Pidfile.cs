namespace Narwhal.Master;

/// <summary>The master's PID file, handled as Gunicorn's pidfile.py: atomic write, stale check, unlink only if ours.</summary>
internal sealed class Pidfile(string path)
{
    public string Path { get; private set; } = path;

    private int _pid;

    /// <summary>Writes the PID; a file naming another live process is an error.</summary>
    public void Create(int pid)
    {
        if (Validate() is { } other && other != Environment.ProcessId)
            throw new IOException($"Already running on PID {other} (or pid file '{Path}' is stale)");
        _pid = pid;
        var dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path))!;
        if (!Directory.Exists(dir)) throw new IOException($"{dir} doesn't exist. Can't create pidfile.");
        var temp = System.IO.Path.Combine(dir, $".{System.IO.Path.GetFileName(Path)}.{pid}.tmp");
        File.WriteAllText(temp, $"{pid}\n");
        File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        File.Move(temp, Path, overwrite: true);
    }

    /// <summary>Moves to a new name (the USR2 child's PIDFILE.2 becomes PIDFILE on promotion).</summary>
    public void Rename(string path)
    {
        Unlink();
        Path = path;
        Create(_pid);
    }

    public void Unlink()
    {
        try
        {
            if (int.TryParse(File.ReadAllText(Path).Trim(), out var pid) && pid == _pid) File.Delete(Path);
        }
        catch (IOException)
        {
            // Already gone.
        }
    }

    /// <summary>The PID in an existing file if that process is alive.</summary>
    private int? Validate()
    {
        try
        {
            return int.TryParse(File.ReadAllText(Path).Trim(), out var pid) && Posix.Unix.IsAlive(pid) ? pid : null;
        }
        catch (IOException)
        {
            return null;
        }
    }
}
