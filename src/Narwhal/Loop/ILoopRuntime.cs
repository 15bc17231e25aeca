namespace Narwhal.Loop;

/// <summary>
/// An embedded interpreter with a protocol's glue and the user's app loaded, and the event
/// loop that serves it through a <see cref="LoopServer"/> (asyncio for ASGI and Tornado, a
/// green hub for gevent and eventlet). Served and finalized on the worker's main thread, the
/// one that started Python.
/// </summary>
internal interface ILoopRuntime
{
    /// <summary>Runs the loop on this thread until the server posts Stop; returns the worker's exit code.</summary>
    int Serve();

    /// <summary>The loop thread's Python stack read from another thread, or null when the GIL cannot be had within <paramref name="limit"/>.</summary>
    string? LoopStack(TimeSpan limit);

    /// <summary>Finalizes Python on the main thread, once the loop has returned.</summary>
    void Shutdown();
}
