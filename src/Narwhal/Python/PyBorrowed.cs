using System.Runtime.CompilerServices;

namespace Narwhal.Python;

/// <summary>
/// A borrowed reference: valid while its owner (a <see cref="PyOwned"/>, a
/// <see cref="PyStored"/>, the container it came from, the caller of a native callback)
/// keeps the object alive. It has nothing to release, so it can be copied freely; to keep
/// the object past its owner, take a new reference with <see cref="PyOwned.IncRef"/>.
/// </summary>
internal readonly struct PyBorrowed
{
    /// <summary>The object's address, for <see cref="Native"/> calls inside Python/ only.</summary>
    internal readonly nint Handle;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal PyBorrowed(nint handle) => Handle = handle;

    public bool IsNull => Handle == 0;

    public bool Is(PyBorrowed other) => Handle == other.Handle;
}
