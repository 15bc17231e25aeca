using System.Collections.Concurrent;
using Narwhal.Logging;
using Narwhal.Settings;

namespace Narwhal.Worker;

/// <summary>
/// --reload: watches the source files of the app's modules (asked from Python, refreshed as
/// the app imports more) and the extra files, and asks the master for a replacement worker
/// on a change. The master starts the replacement before it stops this worker, so no request
/// fails during the swap; if the new code does not load, this worker keeps serving.
/// </summary>
internal sealed class FileWatcher : IDisposable
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    private readonly IReadOnlyList<string> _extra;
    private readonly bool _inotify;
    private readonly Action _changed;
    private readonly ConcurrentDictionary<string, DateTime> _mtimes = new(StringComparer.Ordinal);
    private readonly AutoResetEvent _wake = new(false);
    private readonly Dictionary<string, FileSystemWatcher> _watchers = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private volatile string? _notified;

    private FileWatcher(IReadOnlyList<string> extra, bool inotify, Action changed)
    {
        _extra = extra;
        _inotify = inotify;
        _changed = changed;
    }

    public static FileWatcher Start(Config config, Action changed)
    {
        var extra = config.Get(ProcessSettings.ReloadExtraFiles).Select(Path.GetFullPath).ToList();
        var watcher = new FileWatcher(extra, config.Get(ProcessSettings.ReloadEngine) != "poll", changed);
        // The baseline is taken before the worker serves: a change made right after its first
        // response must count as a change.
        watcher.Scan();
        new Thread(watcher.Run) { IsBackground = true, Name = "reloader" }.Start();
        return watcher;
    }

    private void Run()
    {
        while (!_stop.IsCancellationRequested)
        {
            // With inotify a change wakes the loop at once; polling waits for the next round.
            WaitHandle.WaitAny([_stop.Token.WaitHandle, _wake], Interval);
            if (!_stop.IsCancellationRequested) Scan();
        }
    }

    private void Scan()
    {
        var files = ReloadSources.Files().Concat(_extra).ToList();
        string? changed = null;
        foreach (var file in files)
        {
            var mtime = File.Exists(file) ? File.GetLastWriteTimeUtc(file) : DateTime.MinValue;
            if (_mtimes.TryGetValue(file, out var seen) && seen != mtime) changed ??= file;
            _mtimes[file] = mtime;
            if (_inotify) Watch(file);
        }
        changed ??= Interlocked.Exchange(ref _notified, null);
        if (changed != null)
        {
            ErrorLog.Info($"Worker reloading: {changed} modified");
            _changed();
        }
    }

    private void Watch(string file)
    {
        var dir = Path.GetDirectoryName(file);
        if (dir == null || _watchers.ContainsKey(dir) || !Directory.Exists(dir)) return;
        var watcher = new FileSystemWatcher(dir)
        {
            NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.FileName | NotifyFilters.Size,
            IncludeSubdirectories = false,
        };
        FileSystemEventHandler onChange = (_, e) => Notify(e.FullPath);
        watcher.Changed += onChange;
        watcher.Created += onChange;
        watcher.Renamed += (_, e) => Notify(e.FullPath);
        watcher.EnableRaisingEvents = true;
        _watchers[dir] = watcher;
    }

    private void Notify(string path)
    {
        if (!_mtimes.ContainsKey(path)) return;
        _notified = path;
        _wake.Set();
    }

    public void Dispose()
    {
        _stop.Cancel();
        foreach (var w in _watchers.Values) w.Dispose();
    }
}
