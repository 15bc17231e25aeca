using System.Text.RegularExpressions;
using Xunit;

namespace Narwhal.Tests;

/// <summary>
/// The folders of src/Narwhal depend one way, as the README's layout section says: a folder
/// may use the folders on lower layers only, never one on its own layer or above. Read from
/// the source text: <c>using Narwhal.X;</c>, <c>Narwhal.X.Name</c> and <c>X.Name</c>
/// qualifications, with comments and string literals left out.
/// </summary>
public sealed partial class DependencyDirectionTests
{
    // Lowest first; folders on one layer do not use each other. Program.cs, at the root, wires them all.
    private static readonly string[][] Layers =
    [
        ["Posix", "Syntax"],
        ["Python"],
        ["Settings"],
        ["Cli", "Logging"],
        ["Metrics"],
        ["Supervision"],
        ["Http"],
        ["Loop"],
        ["Wsgi", "Asgi"],
        ["Green", "Tornado"],
        ["Worker"],
        ["Master"],
    ];

    private static string Source => Path.Combine(Support.Corpus.RepositoryRoot, "src", "Narwhal");

    private static int LayerOf(string folder) => Array.FindIndex(Layers, l => l.Contains(folder));

    private static IEnumerable<string> Folders() =>
        Directory.GetDirectories(Source).Select(Path.GetFileName).OfType<string>().Where(f => f is not ("bin" or "obj"));

    private static IEnumerable<(string Folder, string File, string Code)> Files() =>
        from folder in Folders()
        from file in Directory.GetFiles(Path.Combine(Source, folder), "*.cs", SearchOption.AllDirectories)
        select (folder, Path.GetRelativePath(Source, file), Code(File.ReadAllText(file)));

    /// <summary>The code without comments and string literals, where folder names appear as words.</summary>
    private static string Code(string text) => StringsAndComments().Replace(text, m => m.Value.StartsWith('/') ? " " : "\"\"");

    [GeneratedRegex(@"//[^\n]*|/\*.*?\*/|@""(?:[^""]|"""")*""|\$?""(?:[^""\\\n]|\\.)*""", RegexOptions.Singleline)]
    private static partial Regex StringsAndComments();

    private static bool Uses(string code, string folder) =>
        Regex.IsMatch(code, $@"using\s+Narwhal\.{folder}\s*;|(?<![\w.])(?:Narwhal\.)?{folder}\.[A-Z]");

    [Fact]
    public void Every_folder_has_a_layer()
    {
        Assert.DoesNotContain(Folders(), f => LayerOf(f) < 0);
    }

    [Fact]
    public void Each_file_declares_the_namespace_of_its_folder()
    {
        var wrong = Files().Where(f => !Regex.IsMatch(f.Code, $@"namespace\s+Narwhal\.{f.Folder}\s*;")).Select(f => f.File);
        Assert.Empty(wrong);
    }

    [Fact]
    public void No_folder_uses_one_on_its_own_layer_or_above()
    {
        var folders = Folders().ToList();
        var upward = (from f in Files()
                      from other in folders
                      where other != f.Folder && LayerOf(other) >= LayerOf(f.Folder) && Uses(f.Code, other)
                      select $"{f.File} uses {other}/").Distinct().ToList();
        Assert.Empty(upward);
    }

    [Fact]
    public void The_check_sees_each_kind_of_reference()
    {
        // The test above passes only as long as these are seen: it must be able to fail.
        Assert.True(Uses("using Narwhal.Worker;", "Worker"));
        Assert.True(Uses("var x = Narwhal.Worker.WorkerProcess.Run();", "Worker"));
        Assert.True(Uses("Worker.WorkerProcess.Run();", "Worker"));
        Assert.False(Uses("Microsoft.AspNetCore.Http.Features.IFeature f;", "Http"));
        Assert.False(Uses(Code("// see Worker.WorkerProcess\nvar s = \"Worker.Run\";"), "Worker"));
    }
}
