namespace Narwhal.Settings;

/// <summary>The effective value of every setting: defaults overlaid by what the user gave.</summary>
internal sealed class Config
{
    private readonly Dictionary<string, object> _values = [];
    private readonly HashSet<string> _explicit = [];

    public Config()
    {
        foreach (var s in SettingsRegistry.All) _values[s.Name] = s.DefaultValue();
    }

    public T Get<T>(Setting<T> setting) where T : notnull => (T)_values[setting.Name];

    /// <summary>Applies one value; the first explicit value of an append setting replaces its default.</summary>
    public void Set(Setting setting, string raw)
    {
        var current = _explicit.Add(setting.Name) ? ReplaceableDefault(setting) : _values[setting.Name];
        _values[setting.Name] = setting.Parse(raw, current);
    }

    private static object ReplaceableDefault(Setting s) =>
        s.Action == CliAction.Append ? new List<string>() : s.DefaultValue();
}
