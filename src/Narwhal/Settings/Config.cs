namespace Narwhal.Settings;

/// <summary>The effective value of every setting: defaults overlaid by the layers the user gave.</summary>
internal sealed class Config
{
    private readonly Dictionary<string, object> _values = [];

    public Config()
    {
        foreach (var s in SettingsRegistry.All) _values[s.Name] = s.DefaultValue();
    }

    public T Get<T>(Setting<T> setting) where T : notnull => (T)_values[setting.Name];

    public object Get(Setting setting) => _values[setting.Name];

    /// <summary>The text of the config file this configuration was read from (null for none, or a python: module).</summary>
    public string? FileSource { get; set; }

    public void Apply(SettingsLayer layer)
    {
        foreach (var (setting, value) in layer.Values) Set(setting, value);
    }

    public void Set(Setting setting, object value)
    {
        _values[setting.Name] = value;
    }
}

/// <summary>A configuration that cannot be used (Gunicorn prints "Error: ..." and exits 1).</summary>
internal sealed class ConfigException(string message) : Exception(message);
