namespace Narwhal.Python;

/// <summary>
/// One of Narwhal's own Python modules (an embedded resource, see Narwhal.csproj), loaded
/// the first time this process needs it, so a process loads only the jobs it does.
/// </summary>
internal sealed class EmbeddedModule(string resource, string name)
{
    private PyStored? _module;

    public bool IsLoaded => _module != null;

    /// <summary>The module, run on first use. Hold the GIL.</summary>
    public PyBorrowed Get() => _module ??= EmbeddedPython.LoadModule(resource, name).Store();

    /// <summary>Calls the module's function <paramref name="function"/>. Hold the GIL.</summary>
    public PyOwned Call(string function, params scoped ReadOnlySpan<PyBorrowed> args)
    {
        using var fn = Interop.GetAttr(Get(), function);
        return Interop.Call(fn, args);
    }
}
