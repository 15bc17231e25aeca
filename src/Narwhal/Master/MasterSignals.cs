using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Narwhal.Posix;

namespace Narwhal.Master;

/// <summary>
/// The master's signals, queued for its main loop as Gunicorn's arbiter queues them (at most
/// five pending). Child exits wake the loop too.
/// </summary>
internal sealed class MasterSignals : IDisposable
{
    public static readonly int[] Handled =
        [Unix.SIGHUP, Unix.SIGQUIT, Unix.SIGINT, Unix.SIGTERM, Unix.SIGTTIN, Unix.SIGTTOU, Unix.SIGUSR1, Unix.SIGUSR2, Unix.SIGWINCH];

    private readonly List<PosixSignalRegistration> _registrations = [];
    private readonly ConcurrentQueue<int> _queue = new();
    private readonly SemaphoreSlim _wake = new(0);

    public MasterSignals()
    {
        // nohup's ignored HUP (and any other inherited SIG_IGN) would make the registrations void.
        InheritedSignals.Unignore(Handled);
        foreach (var signal in Handled)
            _registrations.Add(PosixSignalRegistration.Create((PosixSignal)signal, c =>
            {
                c.Cancel = true;
                // Registered by number, so the context carries the number.
                if (_queue.Count < 5) _queue.Enqueue((int)c.Signal);
                _wake.Release();
            }));
    }

    /// <summary>Wakes the main loop early (a child exited).</summary>
    public void Wake() => _wake.Release();

    /// <summary>The next queued signal, or 0 after waiting up to <paramref name="timeout"/> for one.</summary>
    public int Next(TimeSpan timeout)
    {
        if (_queue.TryDequeue(out var signal)) return signal;
        _wake.Wait(timeout);
        return _queue.TryDequeue(out signal) ? signal : 0;
    }

    public static string Name(int signal) => Unix.SignalName(signal)[3..].ToLowerInvariant();

    public void Dispose()
    {
        foreach (var r in _registrations) r.Dispose();
    }
}
