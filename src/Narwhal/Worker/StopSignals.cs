using System.Runtime.InteropServices;
using Narwhal.Posix;

namespace Narwhal.Worker;

/// <summary>Why a worker leaves.</summary>
internal enum StopKind
{
    None,
    /// <summary>TERM, or the master is gone: stop accepting, answer what is open, then exit.</summary>
    Graceful,
    /// <summary>INT or QUIT: exit now.</summary>
    Quick,
    /// <summary>A request ran past --timeout.</summary>
    TimedOut,
}

/// <summary>A worker's signals, as Gunicorn's workers take them: TERM graceful, INT and QUIT quick.</summary>
internal sealed class StopSignals : IDisposable
{
    private static readonly int[] Handled = [Unix.SIGTERM, Unix.SIGINT, Unix.SIGQUIT, Unix.SIGHUP, Unix.SIGUSR1];

    private readonly List<PosixSignalRegistration> _registrations = [];
    private readonly ManualResetEventSlim _raised = new();
    private volatile StopKind _kind;

    /// <param name="reopenLogs">USR1: reopen the log files (after logrotate).</param>
    public StopSignals(Action reopenLogs)
    {
        // A worker inherits the master's dispositions; an ignored one would void its registration.
        InheritedSignals.Unignore(Handled);
        On(Unix.SIGTERM, StopKind.Graceful);
        On(Unix.SIGINT, StopKind.Quick);
        On(Unix.SIGQUIT, StopKind.Quick);
        // A worker is never the one to reload; HUP goes to the master. Gunicorn's workers
        // die of it (default action); leaving gracefully loses no request instead.
        On(Unix.SIGHUP, StopKind.Graceful);
        // Each worker has its own descriptors on the log files: it reopens them itself.
        _registrations.Add(PosixSignalRegistration.Create((PosixSignal)Unix.SIGUSR1, c =>
        {
            c.Cancel = true;
            reopenLogs();
        }));
    }

    private void On(int signal, StopKind kind) =>
        _registrations.Add(PosixSignalRegistration.Create((PosixSignal)signal, c =>
        {
            c.Cancel = true;
            // A quick stop overrides a graceful one in progress, never the other way.
            if (_kind != StopKind.Quick) _kind = kind;
            _raised.Set();
        }));

    /// <summary>The stop asked for, or None after <paramref name="timeout"/>.</summary>
    public StopKind Wait(TimeSpan timeout)
    {
        _raised.Wait(timeout);
        return _kind;
    }

    public void Dispose()
    {
        foreach (var r in _registrations) r.Dispose();
        _raised.Dispose();
    }
}
