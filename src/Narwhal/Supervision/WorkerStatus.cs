namespace Narwhal.Supervision;

/// <summary>
/// This worker's side of its heartbeat file: state, beats and requests for a replacement.
/// Every write stamps the beat with the given clock, the one the master reads it by.
/// </summary>
internal sealed class WorkerStatus(Heartbeat heartbeat, TimeProvider time, Func<long>? inFlight = null)
{
    private readonly object _lock = new();
    private WorkerState _state = WorkerState.Booting;
    private int _replaceRequests;
    private long _handled;

    public void Set(WorkerState state, long handled)
    {
        lock (_lock)
        {
            _state = state;
            _handled = handled;
            Write();
        }
    }

    public void Beat(long handled)
    {
        lock (_lock)
        {
            _handled = handled;
            Write();
        }
    }

    /// <summary>
    /// Asks the master for a replacement (max-requests reached, a watched file changed). This
    /// worker keeps serving until the replacement is up and the master sends it TERM.
    /// </summary>
    public void RequestReplacement()
    {
        lock (_lock)
        {
            _replaceRequests++;
            Write();
        }
    }

    private void Write() => heartbeat.Write(time.GetTimestamp(), _state, _replaceRequests, _handled,
        Metrics.RequestMetrics.Enabled ? inFlight?.Invoke() ?? 0 : null);
}
