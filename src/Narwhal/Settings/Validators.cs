namespace Narwhal.Settings;

/// <summary>Turn text from the command line into typed setting values; each failure says what is allowed.</summary>
internal static class Validators
{
    public static int PositiveInt(string raw) =>
        int.TryParse(raw.Trim(), out var v) && v > 0 ? v : throw new SettingValueException($"'{raw}' is not a positive integer (allowed: an integer >= 1)");

    public static int NonNegativeInt(string raw) =>
        int.TryParse(raw.Trim(), out var v) && v >= 0 ? v : throw new SettingValueException($"'{raw}' is not a non-negative integer (allowed: an integer >= 0)");

    public static string String(string raw) => raw;

    public static string Directory(string raw) =>
        System.IO.Directory.Exists(raw) ? Path.GetFullPath(raw) : throw new SettingValueException($"'{raw}' is not an existing directory");

    public static List<string> OneItem(string raw) => [raw];

    /// <summary>Gunicorn's pythonpath: comma-separated directories.</summary>
    public static List<string> CommaList(string raw) =>
        raw.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();

    public static List<string> KeyValue(string raw) =>
        raw.Contains('=') && raw.IndexOf('=') > 0 ? [raw] : throw new SettingValueException($"'{raw}' is not of the form KEY=VALUE");

    public static List<string> Address(string raw)
    {
        BindAddress.Parse(raw); // throws with the allowed forms
        return [raw];
    }
}
