namespace Narwhal.Python;

/// <summary>
/// An owned (strong) reference to a Python object: <see cref="Dispose"/> gives it back.
/// Only touch it while holding the GIL. Pass <see cref="Steal"/> to C-API functions that
/// steal a reference (PyTuple_SetItem), and <see cref="Handle"/> where a borrowed one will do.
/// </summary>
internal struct PyRef : IDisposable
{
    private nint _handle;

    private PyRef(nint handle) => _handle = handle;

    public readonly nint Handle => _handle;
    public readonly bool IsNull => _handle == 0;

    /// <summary>Takes ownership of a new reference returned by the C API; a NULL return means a Python error is set.</summary>
    public static PyRef Own(nint newReference) =>
        newReference != 0 ? new PyRef(newReference) : throw PythonException.Fetch();

    /// <summary>Takes a new reference to a borrowed one.</summary>
    public static PyRef Borrow(nint borrowed)
    {
        Native.Py_IncRef(borrowed);
        return new PyRef(borrowed);
    }

    /// <summary>Hands ownership to the caller (for stealing APIs and native callback returns).</summary>
    public nint Steal()
    {
        var h = _handle;
        _handle = 0;
        return h;
    }

    public void Dispose()
    {
        if (_handle != 0)
        {
            Native.Py_DecRef(_handle);
            _handle = 0;
        }
    }
}
