using Narwhal.Logging;
using Narwhal.Posix;

namespace Narwhal.Master;

/// <summary>systemd's notification socket, when the master runs under a Type=notify unit (<see cref="ServiceNotifier"/>).</summary>
internal sealed partial class Arbiter
{
    private NotifySocket? _notifySocket;
    private ServiceNotifier? _notifier;
    private string? _notifyError;

    /// <summary>
    /// Takes NOTIFY_SOCKET out of the environment before any child starts: only the master
    /// speaks for the unit (a worker's app calling sd_notify would be taken for it). A USR2
    /// master gets it back explicitly. Call after <see cref="Reexec.TakeParentFromEnvironment"/>.
    /// </summary>
    private void OpenNotifySocket()
    {
        try
        {
            _notifySocket = NotifySocket.FromEnvironment();
        }
        catch (FormatException e)
        {
            ErrorLog.Warning($"Not notifying the service manager: {e.Message}");
        }
        Environ.Unset(NotifySocket.Variable);
        if (_notifySocket == null) return;
        _notifier = new ServiceNotifier(_notifySocket.Send, Environment.ProcessId, announceMainPid: _reexec.HasParent);
        ErrorLog.Debug($"Notifying the service manager at {_notifySocket.Address}");
    }

    /// <summary>After each turn of the loop: READY and STATUS as the workers now stand.</summary>
    private void NotifyWorkers()
    {
        if (_notifier == null) return;
        var active = _workers.Where(w => !w.Retiring).ToList();
        var serving = _workers.Count(w => w.Ready && !w.TermSent && !w.TimedOut);
        _notifier.Workers(serving, _desired, active.Count == _desired && active.All(w => w.Ready));
        LogNotifyError();
    }

    private void Notify(Action<ServiceNotifier> what)
    {
        if (_notifier == null) return;
        what(_notifier);
        LogNotifyError();
    }

    /// <summary>A failure is logged when it first happens, not on every tick.</summary>
    private void LogNotifyError()
    {
        var error = _notifier!.LastError;
        if (error != null && error != _notifyError) ErrorLog.Warning($"Cannot notify the service manager at {_notifySocket!.Address}: {error}");
        _notifyError = error;
    }
}
