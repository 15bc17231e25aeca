namespace Narwhal.Http;

/// <summary>
/// Set when this worker is leaving: from then on every response carries
/// <c>Connection: close</c>, so keep-alive clients reconnect (to another worker) after an
/// answer instead of finding their connection reset under a request they just sent.
/// </summary>
internal sealed class DrainSignal
{
    private volatile bool _on;

    public bool On => _on;

    public void Set() => _on = true;
}
