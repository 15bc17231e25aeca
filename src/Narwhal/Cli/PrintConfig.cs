using Narwhal.Settings;

namespace Narwhal.Cli;

/// <summary>--print-config: every setting and its effective value, sorted by name, as Gunicorn prints its Config; and the debug dump of the same.</summary>
internal static class PrintConfig
{
    public static string Format(Config config)
    {
        var settings = SettingsRegistry.All.OrderBy(s => s.Name, StringComparer.Ordinal).ToList();
        var width = settings.Max(s => s.Name.Length);
        return string.Join("\n", settings.Select(s => $"{s.Name.PadRight(width)} = {s.Show(config.Get(s))}"));
    }

    /// <summary>The master's debug dump at start-up and on HUP, as Gunicorn's arbiter logs it (settings in its order).</summary>
    public static string CurrentConfiguration(Config config) =>
        "Current configuration:\n" + string.Join("\n", SettingsRegistry.All.Select(s => $"  {s.Name}: {s.Show(config.Get(s))}"));
}
