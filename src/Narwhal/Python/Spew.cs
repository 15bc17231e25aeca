namespace Narwhal.Python;

/// <summary>--spew: a protocol's request handler wrapped so every line of Python it runs is printed (narwhal_spew.py).</summary>
internal static class Spew
{
    private static readonly EmbeddedModule Module = new("narwhal_spew.py", "narwhal_spew");

    /// <summary>The traced handler. Hold the GIL.</summary>
    public static PyOwned Traced(PyBorrowed handle) => Module.Call("traced", handle);
}
