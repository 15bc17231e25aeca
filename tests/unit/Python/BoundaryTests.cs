using System.Text.RegularExpressions;
using Narwhal.Python;
using Narwhal.Tests.Support;

namespace Narwhal.Tests.Python;

/// <summary>The C API stays inside src/Narwhal/Python/, and each embedded Python module is in the binary.</summary>
public partial class BoundaryTests
{
    // A Native.* import, a raw reference count, a GIL call or a bare handle of a reference type.
    [GeneratedRegex(@"\bNative\.|\bPy_(?:IncRef|DecRef)\b|\bPyGILState_|\bPyEval_|\.Handle\b(?!\s*\()")]
    private static partial Regex RawCApi();

    [Fact]
    public void Only_Python_folder_calls_the_C_API()
    {
        var src = Path.Combine(Corpus.RepositoryRoot, "src", "Narwhal");
        var python = Path.Combine(src, "Python") + Path.DirectorySeparatorChar;
        var offenders = Directory.GetFiles(src, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.StartsWith(python, StringComparison.Ordinal))
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") &&
                        !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .SelectMany(f => File.ReadLines(f).Select((line, i) => (f, i, line)))
            .Where(x => !x.line.TrimStart().StartsWith("//", StringComparison.Ordinal) && RawCApi().IsMatch(x.line))
            .Select(x => $"{Path.GetRelativePath(src, x.f)}:{x.i + 1}: {x.line.Trim()}")
            .ToList();
        Assert.Empty(offenders);
    }

    [Theory]
    [InlineData("narwhal_wsgi.py")]
    [InlineData("narwhal_app.py")]
    [InlineData("narwhal_spew.py")]
    [InlineData("narwhal_reload.py")]
    [InlineData("narwhal_config.py")]
    [InlineData("narwhal_tls.py")]
    [InlineData("narwhal_logging.py")]
    public void Each_Python_module_is_embedded(string resource)
    {
        Assert.Contains(resource, typeof(EmbeddedPython).Assembly.GetManifestResourceNames());
    }
}
