namespace Narwhal.Settings;

/// <summary>Every declared setting, in declaration order.</summary>
internal static class SettingsRegistry
{
    private static readonly List<Setting> _all = [];
    private static Dictionary<string, Setting>? _byName;

    public static IReadOnlyList<Setting> All
    {
        get
        {
            ConfigFileSettings.Register();
            ServerSettings.Register();
            ProcessSettings.Register();
            CompatSettings.Register();
            SecuritySettings.Register();
            SslSettings.Register();
            LoggingSettings.Register();
            HookSettings.Register();
            RecentGunicornSettings.Register();
            AsgiSettings.Register();
            return _all;
        }
    }

    public static Setting? Find(string name) =>
        (_byName ??= All.ToDictionary(s => s.Name)).GetValueOrDefault(name);

    public static Setting<T> Add<T>(Setting<T> setting) where T : notnull
    {
        _all.Add(setting);
        return setting;
    }
}
