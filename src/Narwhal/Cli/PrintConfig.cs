using Narwhal.Settings;

namespace Narwhal.Cli;

/// <summary>--print-config: every setting and its effective value, sorted by name, as Gunicorn prints its Config.</summary>
internal static class PrintConfig
{
    public static string Format(Config config)
    {
        var settings = SettingsRegistry.All.OrderBy(s => s.Name, StringComparer.Ordinal).ToList();
        var width = settings.Max(s => s.Name.Length);
        return string.Join("\n", settings.Select(s => $"{s.Name.PadRight(width)} = {s.Show(config.Get(s))}"));
    }
}
