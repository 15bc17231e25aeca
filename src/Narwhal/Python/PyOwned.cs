using System.Runtime.CompilerServices;

namespace Narwhal.Python;

/// <summary>
/// An owned (strong) reference to a Python object, scoped to one method:
/// <c>using var s = Interop.Str(text);</c> gives it back when the scope ends. A ref struct,
/// so it cannot be put in a field, a collection, a lambda or a box, where a second copy would
/// release the reference again; methods take <see cref="PyBorrowed"/> (it converts
/// implicitly), so passing it on never duplicates ownership. Ownership leaves only through
/// <see cref="Steal"/> (to C, for stealing APIs and native callback returns) or
/// <see cref="Store"/> (to the heap). Only touch it while holding the GIL.
/// </summary>
internal ref struct PyOwned
{
    private nint _handle;

    private PyOwned(nint handle) => _handle = handle;

    /// <summary>Takes ownership of a new reference returned by the C API; a NULL return means a Python error is set.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PyOwned Own(nint newReference) =>
        newReference != 0 ? new PyOwned(newReference) : throw PythonException.Fetch();

    /// <summary>A new reference to a borrowed object.</summary>
    public static PyOwned IncRef(PyBorrowed borrowed)
    {
        Native.Py_IncRef(borrowed.Handle);
        return new PyOwned(borrowed.Handle);
    }

    public readonly PyBorrowed Borrowed
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => new(_handle);
    }

    public readonly bool IsNull => _handle == 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static implicit operator PyBorrowed(in PyOwned owned) => new(owned._handle);

    /// <summary>Hands ownership to C (a stealing API, a native callback's return); this becomes null.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public nint Steal()
    {
        var h = _handle;
        _handle = 0;
        return h;
    }

    /// <summary>Moves ownership to a heap object that a field or a collection can hold; this becomes null.</summary>
    public PyStored Store() => new(Steal());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Dispose()
    {
        if (_handle != 0)
        {
            Native.Py_DecRef(_handle);
            _handle = 0;
        }
    }
}
