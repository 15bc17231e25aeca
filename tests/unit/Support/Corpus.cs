using System.Text.Json;

namespace Narwhal.Tests.Support;

/// <summary>
/// Gunicorn's request corpus (raw requests and their expected parses), from the shared
/// folder the end-to-end suites read it from: $NARWHAL_SHARED, else shared/ beside the
/// repository (tests/conftest.py). A missing corpus is an error, never zero cases.
/// </summary>
internal static class Corpus
{
    public static string Folder
    {
        get
        {
            var shared = Environment.GetEnvironmentVariable("NARWHAL_SHARED") is { Length: > 0 } env
                ? env : Path.Combine(RepositoryRoot, "..", "shared");
            var folder = Path.GetFullPath(Path.Combine(shared, "conformance", "gunicorn-requests"));
            if (!Directory.Exists(Path.Combine(folder, "valid")) || !Directory.Exists(Path.Combine(folder, "invalid")))
                throw new InvalidOperationException(
                    $"Gunicorn's request corpus is not at {folder}: set NARWHAL_SHARED to the shared folder");
            return folder;
        }
    }

    /// <summary>The checkout this test assembly was built from (it holds src/Narwhal/Narwhal.csproj).</summary>
    public static string RepositoryRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "src", "Narwhal", "Narwhal.csproj"))) return dir.FullName;
            throw new InvalidOperationException($"no repository above {AppContext.BaseDirectory}");
        }
    }

    /// <summary>Case ids ("valid/001"), for xunit's MemberData.</summary>
    public static IEnumerable<object[]> Ids(string kind) =>
        Directory.GetFiles(Path.Combine(Folder, kind), "*.json").Order(StringComparer.Ordinal)
            .Select(p => new object[] { kind + "/" + Path.GetFileNameWithoutExtension(p) });

    public static JsonElement Load(string id) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, id + ".json"))).RootElement;
}
