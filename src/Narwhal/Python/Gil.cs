using System.Runtime.CompilerServices;

namespace Narwhal.Python;

/// <summary>
/// The one place the GIL is taken and released. Between calls no thread holds it:
/// <list type="bullet">
/// <item>any thread, for one call into Python: <c>using (Gil.Take()) { ... }</c> (PyGILState);</item>
/// <item>around anything that can block (socket I/O, waiting for work), so threads started by
/// the app keep running: <c>using (Gil.Release()) { blockingCall(); }</c>;</item>
/// <item>a dedicated Python thread keeps one permanent thread state (<see cref="Attach"/>) and
/// takes the GIL with it only while it runs Python;</item>
/// <item>the main thread gives the GIL up after Py_InitializeEx and takes it back for
/// Py_FinalizeEx (<see cref="LeaveMainThread"/>, <see cref="ReturnToMainThread"/>).</item>
/// </list>
/// All ref structs: a scope cannot outlive the method (or the thread) that opened it.
/// </summary>
internal static class Gil
{
    private static nint _mainThreadState;

    /// <summary>Holds the GIL for the scope, from any thread.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Held Take() => new(Native.PyGILState_Ensure());

    /// <summary>Gives the GIL up for the scope; the calling thread must hold it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Released Release() => new(Native.PyEval_SaveThread());

    /// <summary>
    /// Creates this thread's permanent thread state and returns without the GIL; take it with
    /// <see cref="ThreadState.Resume"/> around the Python work, and dispose on the way out.
    /// </summary>
    public static ThreadState Attach()
    {
        var gilState = Native.PyGILState_Ensure();
        return new ThreadState(gilState, Native.PyEval_SaveThread());
    }

    /// <summary>After Py_InitializeEx: the main thread gives the GIL up.</summary>
    internal static void LeaveMainThread() => _mainThreadState = Native.PyEval_SaveThread();

    /// <summary>Before Py_FinalizeEx: the main thread takes the GIL back.</summary>
    internal static void ReturnToMainThread() => Native.PyEval_RestoreThread(_mainThreadState);

    public readonly ref struct Held
    {
        private readonly int _state;

        internal Held(int state) => _state = state;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Dispose() => Native.PyGILState_Release(_state);
    }

    public readonly ref struct Released
    {
        private readonly nint _threadState;

        internal Released(nint threadState) => _threadState = threadState;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Dispose() => Native.PyEval_RestoreThread(_threadState);
    }

    /// <summary>A dedicated thread's permanent thread state (no per-request PyGILState_Ensure).</summary>
    public ref struct ThreadState
    {
        private readonly int _gilState;
        private nint _saved;

        internal ThreadState(int gilState, nint saved)
        {
            _gilState = gilState;
            _saved = saved;
        }

        /// <summary>Takes the GIL with this thread's state.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Resume() => Native.PyEval_RestoreThread(_saved);

        /// <summary>Gives the GIL up, keeping the thread state for the next <see cref="Resume"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Pause() => _saved = Native.PyEval_SaveThread();

        /// <summary>Ends the thread state; call without the GIL (after <see cref="Pause"/>).</summary>
        public readonly void Dispose()
        {
            Native.PyEval_RestoreThread(_saved);
            Native.PyGILState_Release(_gilState);
        }
    }
}
