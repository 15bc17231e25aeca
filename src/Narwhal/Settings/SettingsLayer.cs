namespace Narwhal.Settings;

/// <summary>
/// The values one source gives (the config file, GUNICORN_CMD_ARGS, the command line).
/// Layers are applied in Gunicorn's order, each replacing what came before: a -b on the
/// command line replaces the config file's bind, it does not add to it.
/// </summary>
internal sealed class SettingsLayer
{
    private readonly Dictionary<Setting, object> _values = [];

    public IEnumerable<KeyValuePair<Setting, object>> Values => _values;

    public bool Has(Setting setting) => _values.ContainsKey(setting);

    public T? Get<T>(Setting<T> setting) where T : notnull => _values.TryGetValue(setting, out var v) ? (T)v : default;

    /// <summary>Adds a value given as text; repeated append settings accumulate within the layer.</summary>
    public void Parse(Setting setting, string raw)
    {
        var current = _values.TryGetValue(setting, out var v) ? v
            : setting.Action == CliAction.Append ? new List<string>() : setting.DefaultValue();
        _values[setting] = setting.Parse(raw, current);
    }

    public void Set(Setting setting, object value) => _values[setting] = value;
}
