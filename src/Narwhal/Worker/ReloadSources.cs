using Narwhal.Python;

namespace Narwhal.Worker;

/// <summary>--reload: the source files of the app's loaded modules, as the interpreter lists them (narwhal_reload.py).</summary>
internal static class ReloadSources
{
    private static readonly EmbeddedModule Module = new("narwhal_reload.py", "narwhal_reload");

    /// <summary>From any thread (the watcher's): takes the GIL for the call.</summary>
    public static List<string> Files()
    {
        using var gil = Gil.Take();
        using var list = Module.Call("source_files");
        var files = new List<string>();
        var n = Containers.Count(list);
        for (nint i = 0; i < n; i++)
            if (Interop.AsString(Containers.Item(list, i)) is { } path) files.Add(path);
        return files;
    }
}
