using System.Diagnostics;
using Narwhal.Green;
using Narwhal.Posix;
using Narwhal.Settings;
using Narwhal.Supervision;

namespace Narwhal.Master;

/// <summary>
/// Starts worker processes: new processes of this binary (.NET cannot fork) with the same
/// argv, handed their listening sockets and a fresh heartbeat file by descriptor
/// (<see cref="WorkerHandoff"/>); and the throwaway process that --preload loads the app in.
/// Each starts in the directory the master was started in, before --chdir, so that its argv
/// (a relative --chdir or -c) means what it meant to the master. Runs on the arbiter's loop thread.
/// </summary>
internal sealed class WorkerSpawner(string executable, string startDirectory, string[] args, TimeProvider time,
    Action exited, Action<int> preFork)
{
    private int _nextAge;

    /// <summary>
    /// A new worker, the next in spawn order; <paramref name="exited"/> wakes the loop when it exits.
    /// With <paramref name="shares"/>, it gets the table and <paramref name="slot"/> in it, emptied first.
    /// </summary>
    public ChildWorker Spawn(Config config, IReadOnlyList<Listener> listeners, AcceptShares? shares, int slot)
    {
        var age = ++_nextAge;
        var heartbeat = Heartbeat.Create(NullIfEmpty(config.Get(ProcessSettings.WorkerTmpDir)),
            config.Get(ProcessSettings.Umask), Owner.Uid(config), Owner.Gid(config), time);
        preFork(age);
        var own = OwnListeners(config, listeners);
        if (shares == null) slot = -1;
        else shares.Assign(slot);
        var handoff = new WorkerHandoff(own.Select(l => l.Fd).ToList(), heartbeat.Fd, Environment.ProcessId, age,
            shares?.Fd ?? -1, slot);
        var start = Start(config);
        start.Environment[WorkerHandoff.Variable] = handoff.Format();
        if (GreenPatch.LibraryFor(config) is { } library) start.Environment[GreenPatch.Variable] = library;
        Process process;
        Unix.SetInheritable(heartbeat.Fd, true);
        if (shares != null) Unix.SetInheritable(shares.Fd, true);
        try
        {
            process = Process.Start(start)!;
        }
        finally
        {
            Unix.SetInheritable(heartbeat.Fd, false);
            if (shares != null) Unix.SetInheritable(shares.Fd, false);
            foreach (var l in own.Except(listeners)) l.Dispose();
        }
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) => exited();
        return new ChildWorker(process, heartbeat, age, slot);
    }

    /// <summary>--preload: the app must load once before any worker starts; a failure stops here.</summary>
    public void Preload(Config config)
    {
        var start = Start(config);
        start.Environment[WorkerHandoff.PreloadCheckVariable] = "1";
        using var check = Process.Start(start)!;
        check.WaitForExit();
        if (check.ExitCode != 0)
            throw new HaltException(check.ExitCode == Program.ExitAppLoadError ? "App failed to load." : "Worker failed to boot.",
                check.ExitCode == Program.ExitAppLoadError ? Program.ExitAppLoadError : Program.ExitWorkerBootError);
    }

    /// <summary>This binary with the master's argv, and the config file as the master evaluated it.</summary>
    private ProcessStartInfo Start(Config config)
    {
        var start = new ProcessStartInfo(executable) { UseShellExecute = false, WorkingDirectory = startDirectory };
        foreach (var a in args) start.ArgumentList.Add(a);
        Worker.SocketEngine.LeaveOut(start.Environment);
        if (ConfigLoader.Snapshot(config) is { } snapshot) start.Environment[ConfigLoader.SnapshotVariable] = snapshot;
        return start;
    }

    /// <summary>The sockets a new worker listens on: the shared ones, or with --reuse-port its own twins of the TCP ones.</summary>
    private static IReadOnlyList<Listener> OwnListeners(Config config, IReadOnlyList<Listener> listeners)
    {
        if (!config.Get(ProcessSettings.ReusePort)) return listeners;
        var backlog = config.Get(ProcessSettings.Backlog);
        return listeners.Select(l => l.IsTcp ? Listener.BindReusePortTwin(l, backlog) : l).ToList();
    }

    private static string? NullIfEmpty(string s) => s.Length == 0 ? null : s;
}
