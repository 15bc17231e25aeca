using Narwhal.Posix;

namespace Narwhal.Settings;

/// <summary>Turn text from the command line into typed setting values; each failure says what is allowed.</summary>
internal static class Validators
{
    /// <summary>'*', IP addresses and CIDR networks, comma-separated (forwarded_allow_ips, proxy_allow_ips).</summary>
    public static List<string> AddressList(string raw)
    {
        var list = CommaList(raw);
        try
        {
            _ = new Syntax.AddressList(list);
        }
        catch (FormatException e)
        {
            throw new SettingValueException(e.Message);
        }
        return list;
    }

    public static int PositiveInt(string raw) =>
        int.TryParse(raw.Trim(), out var v) && v > 0 ? v : throw new SettingValueException($"'{raw}' is not a positive integer (allowed: an integer >= 1)");

    public static int NonNegativeInt(string raw) =>
        int.TryParse(raw.Trim(), out var v) && v >= 0 ? v : throw new SettingValueException($"'{raw}' is not a non-negative integer (allowed: an integer >= 0)");

    public static double NonNegativeSeconds(string raw) =>
        double.TryParse(raw.Trim(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var v) && v >= 0 && double.IsFinite(v)
            ? v : throw new SettingValueException($"'{raw}' is not a number of seconds (allowed: a number >= 0)");

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

    public static bool Bool(string raw) => raw.Trim().ToLowerInvariant() switch
    {
        "true" or "1" or "yes" or "y" or "on" => true,
        "false" or "0" or "no" or "n" or "off" => false,
        _ => throw new SettingValueException($"'{raw}' is not a boolean (allowed: true or false)"),
    };

    /// <summary>Gunicorn's auto_int: decimal, 0o/0x/0b prefixes, and a leading 0 read as octal ("022").</summary>
    public static int AutoInt(string raw)
    {
        var s = raw.Trim().ToLowerInvariant();
        try
        {
            if (s.StartsWith("0x")) return Convert.ToInt32(s[2..], 16);
            if (s.StartsWith("0o")) return Convert.ToInt32(s[2..], 8);
            if (s.StartsWith("0b")) return Convert.ToInt32(s[2..], 2);
            if (s.Length > 1 && s[0] == '0') return Convert.ToInt32(s[1..], 8);
            return int.Parse(s);
        }
        catch (Exception e) when (e is FormatException or OverflowException or ArgumentException)
        {
            throw new SettingValueException($"'{raw}' is not an integer (allowed: decimal, 0o octal, 0x hex, or 022-style octal)");
        }
    }

    public static string OneOf(string raw, params string[] allowed) =>
        allowed.Contains(raw) ? raw : throw new SettingValueException($"'{raw}' is not allowed (allowed: {string.Join(", ", allowed)})");

    /// <summary>As <see cref="OneOf"/>, ignoring case and surrounding spaces (Gunicorn lowercases these).</summary>
    public static string OneOfIgnoreCase(string raw, params string[] allowed) =>
        OneOf(raw.Trim().ToLowerInvariant(), allowed);

    /// <summary>A dict from a config file (JSON text from the embedded Python) of str to str.</summary>
    public static Dictionary<string, string> StringDict(string json)
    {
        try
        {
            var dict = new Dictionary<string, string>();
            foreach (var p in System.Text.Json.JsonDocument.Parse(json).RootElement.EnumerateObject())
                dict[p.Name] = p.Value.ValueKind == System.Text.Json.JsonValueKind.String ? p.Value.GetString()! : p.Value.ToString();
            return dict;
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException)
        {
            throw new SettingValueException($"'{json}' is not a dictionary of strings");
        }
    }

    /// <summary>Gunicorn's statsd address: HOST:PORT (port 8125 by default) or unix:PATH.</summary>
    public static string StatsdAddress(string raw)
    {
        raw = raw.Trim();
        if (raw.Length == 0 || raw.StartsWith("unix:")) return raw;
        var colon = raw.LastIndexOf(':');
        if (colon > 0 && !raw.EndsWith(']') && !int.TryParse(raw[(colon + 1)..], out _))
            throw new SettingValueException($"'{raw}' is not a statsd address (allowed: HOST:PORT or unix:PATH)");
        return raw;
    }

    /// <summary>A user name or numeric uid, resolved now so a typo fails at start-up as in Gunicorn.</summary>
    public static string User(string raw) =>
        raw.All(char.IsAsciiDigit) || Unix.UserId(raw) is not null ? raw : throw new SettingValueException($"No such user: '{raw}'");

    public static string Group(string raw) =>
        raw.All(char.IsAsciiDigit) || Unix.GroupId(raw) is not null ? raw : throw new SettingValueException($"No such group: '{raw}'");

}
