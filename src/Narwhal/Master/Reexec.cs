using System.Diagnostics;
using Narwhal.Logging;
using Narwhal.Posix;

namespace Narwhal.Master;

/// <summary>
/// USR2, Gunicorn's zero-downtime upgrade, from both ends: this master starting a new one
/// from the binary on disk that inherits the listeners, and a master so started (the "Master.2")
/// taking over once the old one is gone. Runs on the arbiter's loop thread.
/// </summary>
internal sealed class Reexec(string executable, string startDirectory, string[] args, Action wake)
{
    /// <summary>Set in the environment of a master started by USR2: the old master's PID (Gunicorn's GUNICORN_PID).</summary>
    public const string ParentMasterVariable = "NARWHAL_PID";
    /// <summary>The listening descriptors a USR2 master inherits (Gunicorn's GUNICORN_FD, also accepted).</summary>
    public const string ListenFdsVariable = "NARWHAL_FD";

    private int _parentPid;
    private Process? _child;

    /// <summary>This master was started by USR2 and the old one is still there.</summary>
    public bool HasParent => _parentPid != 0;

    /// <summary>A master this one started by USR2 is running.</summary>
    public bool HasChild => _child != null;

    /// <summary>The other master of a USR2 pair, the one that stays when this one leaves: the new master, else the old one.</summary>
    public int? Partner => _child?.Id ?? (_parentPid != 0 ? _parentPid : null);

    /// <summary>At start: whether the environment says this master was started by USR2.</summary>
    public bool TakeParentFromEnvironment()
    {
        if (int.TryParse(Environment.GetEnvironmentVariable(ParentMasterVariable), out var parent)) _parentPid = parent;
        return HasParent;
    }

    /// <summary>
    /// USR2: starts the new master, unless one runs or this one is new itself; <paramref name="preExec"/> first (the pre_exec hook).
    /// <paramref name="notifySocket"/>: systemd's NOTIFY_SOCKET, which this master took out of the environment of its children.
    /// </summary>
    public void Start(IEnumerable<int> listenerFds, Action preExec, string? notifySocket)
    {
        if (_child != null)
        {
            ErrorLog.Warning("USR2 signal ignored. Child exists.");
            return;
        }
        if (_parentPid != 0)
        {
            ErrorLog.Warning("USR2 signal ignored. Parent exists.");
            return;
        }
        preExec();
        var start = new ProcessStartInfo(executable) { UseShellExecute = false, WorkingDirectory = startDirectory };
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment[ParentMasterVariable] = Environment.ProcessId.ToString();
        start.Environment[ListenFdsVariable] = string.Join(',', listenerFds);
        if (notifySocket != null) start.Environment[NotifySocket.Variable] = notifySocket;
        _child = Process.Start(start);
        if (_child != null)
        {
            _child.EnableRaisingEvents = true;
            _child.Exited += (_, _) => wake();
        }
    }

    /// <summary>Forgets a new master that exited (it failed, or was stopped): USR2 may start another. True if one did.</summary>
    public bool ReapChild()
    {
        if (_child is not { HasExited: true }) return false;
        _child.Dispose();
        _child = null;
        return true;
    }

    /// <summary>True once, when the old master is gone and this one takes over.</summary>
    public bool Promoted()
    {
        if (_parentPid == 0 || Unix.ParentPid() == _parentPid) return false;
        ErrorLog.Info("Master has been promoted.");
        _parentPid = 0;
        Environ.Unset(ParentMasterVariable);
        return true;
    }
}
