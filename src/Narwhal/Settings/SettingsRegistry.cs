namespace Narwhal.Settings;

/// <summary>Every declared setting, in declaration order.</summary>
internal static class SettingsRegistry
{
    private static readonly List<Setting> _all = [];

    public static IReadOnlyList<Setting> All
    {
        get
        {
            ServerSettings.Register();
            ProcessSettings.Register();
            return _all;
        }
    }

    public static Setting<T> Add<T>(Setting<T> setting) where T : notnull
    {
        _all.Add(setting);
        return setting;
    }
}
