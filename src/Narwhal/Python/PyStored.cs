using System.Runtime.CompilerServices;

namespace Narwhal.Python;

/// <summary>
/// An owned reference that lives on the heap, for fields and caches (the app, the glue's
/// functions, interned environ keys): made once, not per request, so the allocation costs
/// nothing on the request path. A class, so copying the variable shares the one owner
/// instead of duplicating it; <see cref="Dispose"/> releases the reference once (later calls
/// do nothing). No finalizer: it would run without the GIL, possibly after Py_FinalizeEx.
/// Only touch it while holding the GIL.
/// </summary>
internal sealed class PyStored : IDisposable
{
    private nint _handle;

    /// <summary>Takes ownership of a new reference (see <see cref="PyOwned.Store"/>).</summary>
    internal PyStored(nint newReference) => _handle = newReference;

    public PyBorrowed Borrowed
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => new(_handle);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static implicit operator PyBorrowed(PyStored stored) => new(stored._handle);

    public void Dispose()
    {
        if (_handle != 0)
        {
            Native.Py_DecRef(_handle);
            _handle = 0;
        }
    }
}
