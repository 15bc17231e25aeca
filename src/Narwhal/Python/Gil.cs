namespace Narwhal.Python;

/// <summary>
/// GIL scopes for threads that own a permanent thread state. A Python thread holds the
/// GIL only while it runs Python; around anything that can block (socket I/O, waiting for
/// work) it releases it so threads started by the app keep running:
/// <code>using (Gil.Release()) { blockingCall(); }</code>
/// </summary>
internal static class Gil
{
    public static Released Release() => new(Native.PyEval_SaveThread());

    public readonly struct Released(nint threadState) : IDisposable
    {
        public void Dispose() => Native.PyEval_RestoreThread(threadState);
    }
}
