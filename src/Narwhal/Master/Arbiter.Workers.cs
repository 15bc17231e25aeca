using Narwhal.Logging;
using Narwhal.Posix;
using Narwhal.Settings;
using Narwhal.Supervision;

namespace Narwhal.Master;

/// <summary>
/// Keeping --workers workers: spawning and retiring to the desired count (rolling replacement),
/// acting on what their heartbeats say, reaping the ones that exited, and a replacement that
/// cannot boot. Called from the arbiter's main loop and its signal handling.
/// </summary>
internal sealed partial class Arbiter
{
    /// <summary>Spawns or retires workers so that <see cref="_desired"/> of them serve.</summary>
    private void ManageWorkers()
    {
        var plan = WorkerCount.For(_workers, _desired);
        for (var i = 0; i < plan.Spawn; i++)
        {
            var slot = FreeShareSlot();
            _workers.Add(_spawner.Spawn(_config, _listeners, slot >= 0 ? _shares : null, slot));
        }
        foreach (var w in plan.StopNow) Retire(w, now: true);
        foreach (var w in plan.Replaced) Terminate(w);

        // Gunicorn's debug line, when the number of workers kept (not being retired) changes.
        var kept = _workers.Count(w => !w.Retiring);
        if (kept != _loggedWorkers) ErrorLog.Debug($"{_loggedWorkers = kept} workers");
    }

    private int _loggedWorkers = -1;

    /// <summary>
    /// The lowest slot of the accept shares no live worker holds; -1 without the table, with
    /// --reuse-port (each worker has its own sockets: yielding a connection gives it to no one)
    /// or when all are held (that worker then accepts as if alone).
    /// </summary>
    private int FreeShareSlot()
    {
        if (_shares == null || _config.Get(ProcessSettings.ReusePort)) return -1;
        for (var slot = 0; slot < AcceptShares.Capacity; slot++)
            if (!_workers.Any(w => w.ShareSlot == slot)) return slot;
        return -1;
    }

    private void Retire(ChildWorker w, bool now)
    {
        w.Retiring = true;
        if (now) Terminate(w);
    }

    private void Terminate(ChildWorker w)
    {
        if (w.TermSent) return;
        w.TermSent = true;
        w.KillAt = Deadline.After(GracefulTimeout, _time);
        Unix.Kill(w.Pid, Unix.SIGTERM);
    }

    /// <summary>Acts on what the heartbeats say: ready, replacement wanted, request timed out, silent.</summary>
    private void CheckWorkers()
    {
        foreach (var w in _workers) Check(w);
        var limit = _config.Get(ProcessSettings.MaxWorkerRss);
        foreach (var (w, rss) in _rssLimit.Exceeded(_workers, limit))
        {
            ErrorLog.Info($"Worker (pid:{w.Pid}) exceeded max-worker-rss ({RssLimit.ToMiB(rss)} MiB > {limit} MiB), replacing it");
            _metrics.ReplacedForMemory();
            Retire(w, now: false);
        }
    }

    private void Check(ChildWorker w, bool exited = false)
    {
        var reading = w.Heartbeat.Read();
        var (state, replaceRequests) = (reading.State, reading.ReplaceRequests);
        if (state != WorkerState.Booting) w.Ready = true;
        if (state == WorkerState.TimedOut && !w.TimedOut)
        {
            ErrorLog.Critical($"WORKER TIMEOUT (pid:{w.Pid})");
            w.TimedOut = w.Retiring = w.TermSent = true;
            w.KillAt = Deadline.After(GracefulTimeout, _time);
        }
        if (replaceRequests != w.SeenReplaceRequests)
        {
            w.SeenReplaceRequests = replaceRequests;
            if (!w.Retiring) Retire(w, now: false);
        }
        if (exited) return; // its PID may already belong to another process
        if (w.KillAt is { } killAt && killAt.HasPassed(_time))
        {
            Unix.Kill(w.Pid, Unix.SIGKILL);
            w.KillAt = null;
        }
        else if (!w.TimedOut && !w.Aborted && reading.IsStale(Timeout, _time))
        {
            // Not even the worker's watchdog runs: the process is wedged (or was still
            // loading the app after --timeout, as Gunicorn counts it). Gunicorn sends
            // SIGABRT first so its worker can run worker_abort; a wedged .NET process
            // cannot run it, and SIGABRT would only leave a core file.
            ErrorLog.Critical($"WORKER TIMEOUT (pid:{w.Pid})");
            w.Aborted = w.Retiring = w.TermSent = true;
            Unix.Kill(w.Pid, Unix.SIGKILL);
        }
    }

    /// <summary>Forgets exited workers, logs how they ended, and stops on a worker that cannot boot.</summary>
    private void ReapWorkers()
    {
        if (_reexec.ReapChild()) Notify(n => n.TakeBack());
        foreach (var w in _workers.Where(w => w.Process.HasExited).ToList())
        {
            Check(w, exited: true); // what it said last, e.g. a timeout just before it exited
            _metrics.Exited(w, restart: !_stopping);
            _workers.Remove(w);
            if (w.ShareSlot >= 0) _shares?.Clear(w.ShareSlot);
            var code = w.Process.ExitCode;
            w.Dispose();
            Hook(HookSettings.ChildExit.Name, w.Pid, w.Age);
            if (!w.Ready && !_stopping && code is Program.ExitWorkerBootError or Program.ExitAppLoadError)
                BootFailed(w, code);
            else if (code is > 128 and < 160)
                ErrorLog.Error($"Worker (pid:{w.Pid}) was sent {Unix.SignalName(code - 128)}!{(code - 128 == Unix.SIGKILL ? " Perhaps out of memory?" : "")}");
            else if (code != 0)
                ErrorLog.Error($"Worker (pid:{w.Pid}) exited with code {code}.");
        }
    }

    /// <summary>
    /// A worker that cannot load the app stops the master (Gunicorn's exit codes 3 and 4)
    /// instead of a respawn loop. While older workers are still serving (HUP, max-requests,
    /// --reload with a broken file), they are kept instead and the master stays up.
    /// </summary>
    private void BootFailed(ChildWorker w, int code)
    {
        var reason = code == Program.ExitAppLoadError ? "App failed to load." : "Worker failed to boot.";
        var serving = _workers.Where(o => o.Ready && !o.TermSent && !o.TimedOut).ToList();
        if (serving.Count == 0) throw new HaltException(reason, code);
        // A replacement of a round that already failed: it was told to stop, and failed as
        // the first one did (with -w 2 and --reload, both replacements load the broken file).
        if (w.Retiring) return;
        ErrorLog.Error($"{reason} (pid:{w.Pid}) Keeping {serving.Count} running worker(s) on the previous code.");
        foreach (var o in serving) o.Retiring = false;
        // The replacements of the same round would fail the same way.
        foreach (var o in _workers.Where(o => !o.Ready && !o.Retiring)) Retire(o, now: true);
        SetDesired(Math.Max(_desired, 1));
    }
}
