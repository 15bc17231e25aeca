namespace Narwhal.Syntax;

/// <summary>How http_protocols names HTTP versions: "h1", "h2", comma-separated, in order of preference.</summary>
internal static class HttpVersionList
{
    public static readonly string[] Known = ["h1", "h2"];

    public static List<string> Parse(string value) =>
        value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(v => v.ToLowerInvariant()).ToList();
}
