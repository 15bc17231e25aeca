using System.Globalization;
using System.Text.Json;

namespace Narwhal.Settings;

/// <summary>How a command-line flag consumes its value, as Gunicorn's argparse actions do.</summary>
internal enum CliAction
{
    /// <summary>Takes one value; a later occurrence replaces an earlier one.</summary>
    Store,
    /// <summary>Takes one value; every occurrence adds to the list (e.g. <c>-b</c>, <c>-e</c>).</summary>
    Append,
    /// <summary>Takes no value; sets true.</summary>
    StoreTrue,
    /// <summary>Takes no value; sets false (Gunicorn's <c>--no-sendfile</c>).</summary>
    StoreFalse,
    /// <summary>
    /// argparse's nargs='?': <c>--flag=VALUE</c>, <c>--flag VALUE</c> when VALUE is one the
    /// setting allows, else the setting's <see cref="Setting.Const"/> (<c>--proxy-protocol</c>).
    /// </summary>
    OptionalValue,
}

/// <summary>
/// A value as a config file gives it, converted by the embedded Python into one of a few
/// kinds: <c>str</c>, <c>int</c>, <c>bool</c>, <c>list</c> (JSON array of str), <c>dict</c>
/// (JSON object), <c>callable</c> (its dotted name) or <c>none</c>.
/// </summary>
internal readonly record struct FileValue(string Kind, string Text);

/// <summary>
/// One setting, declared once: its declaration drives the command line, the config file,
/// <c>GUNICORN_CMD_ARGS</c>, <c>--help</c>, <c>--print-config</c> and <c>docs/settings.md</c>.
/// </summary>
internal abstract class Setting
{
    public required string Name { get; init; }
    public required string Section { get; init; }
    public string[] Cli { get; init; } = [];
    public string? Meta { get; init; }
    public CliAction Action { get; init; } = CliAction.Store;
    /// <summary>The value of a bare flag with <see cref="CliAction.OptionalValue"/>.</summary>
    public string? Const { get; init; }
    /// <summary>The words a flag with <see cref="CliAction.OptionalValue"/> may take as its next argument.</summary>
    public string[] Choices { get; init; } = [];
    public required string Desc { get; init; }
    /// <summary>What Narwhal does differently from Gunicorn with this setting, for docs/settings.md.</summary>
    public string? Narwhal { get; init; }
    /// <summary>The default as shown in <c>--help</c> and docs (may differ from the literal, e.g. depends on $PORT).</summary>
    public abstract string DefaultText { get; }

    public abstract object DefaultValue();

    /// <summary>Turns one command-line value into the setting's value, adding to <paramref name="current"/> for lists.</summary>
    public abstract object Parse(string raw, object current);

    /// <summary>Turns a config-file value into the setting's value.</summary>
    public abstract object FromFile(FileValue value);

    /// <summary>Why Narwhal cannot honour <paramref name="value"/>, or null when it can.</summary>
    public abstract string? CannotHonour(object value);

    /// <summary>The value as Gunicorn's <c>--print-config</c> prints it (Python's str()).</summary>
    public abstract string Show(object value);
}

/// <summary>A setting of type <typeparamref name="T"/>, with a validator that turns text into a value or explains why not.</summary>
internal sealed class Setting<T> : Setting where T : notnull
{
    public required Func<T> Default { get; init; }
    public required Func<string, T> Validate { get; init; }
    public string? DefaultDoc { get; init; }
    /// <summary>Says why a value cannot be honoured (yet); null when it can. Checked once the configuration is complete.</summary>
    public Func<T, string?>? Honour { get; init; }
    /// <summary>An empty string means Python's None (Gunicorn's default for optional paths and names).</summary>
    public bool EmptyIsNone { get; init; } = true;

    public override string DefaultText => DefaultDoc ?? Show(Default());

    public override object DefaultValue() => Default();

    public override object Parse(string raw, object current)
    {
        var value = Validate(raw);
        if (Action == CliAction.Append && current is IReadOnlyList<string> list && value is IReadOnlyList<string> add)
            return list.Concat(add).ToList();
        return value;
    }

    public override object FromFile(FileValue value)
    {
        if (value.Kind == "none") return Default();
        if (typeof(T) == typeof(List<string>))
        {
            if (value.Kind != "list") return Validate(value.Text); // Gunicorn's legacy form: one string
            var items = new List<string>();
            foreach (var item in JsonDocument.Parse(value.Text).RootElement.EnumerateArray())
                items.AddRange((List<string>)(object)Validate(item.GetString() ?? ""));
            return items;
        }
        if (typeof(T) == typeof(Dictionary<string, string>))
        {
            if (value.Kind != "dict") throw new SettingValueException($"{Shown(value)} is not a dictionary");
            return Validate(value.Text);
        }
        if (typeof(T) == typeof(bool) && value.Kind is not ("bool" or "str"))
            throw new SettingValueException($"{Shown(value)} is not a boolean (allowed: True or False)");
        if (typeof(T) == typeof(int) && value.Kind is not ("int" or "str"))
            throw new SettingValueException($"{Shown(value)} is not an integer");
        if (value.Kind is "list" or "dict" && typeof(T) == typeof(string) && !AcceptsStructured)
            throw new SettingValueException($"{Shown(value)} is not a string");
        return Validate(value.Text);
    }

    /// <summary>True for settings whose string value may carry a dict or callable (hooks, logconfig_dict, logger_class).</summary>
    public bool AcceptsStructured { get; init; }

    private static string Shown(FileValue v) => v.Kind == "str" ? $"'{v.Text}'" : v.Text;

    public override string? CannotHonour(object value) => Honour?.Invoke((T)value);

    /// <summary>How --print-config shows a value, when Python's str() of the stored form would mislead (hooks).</summary>
    public Func<T, string>? Display { get; init; }

    public override string Show(object value) => Display != null ? Display((T)value) : value switch
    {
        IEnumerable<string> list when value is List<string> => "[" + string.Join(", ", list.Select(s => $"'{s}'")) + "]",
        Dictionary<string, string> dict => "{" + string.Join(", ", dict.Select(kv => $"'{kv.Key}': '{kv.Value}'")) + "}",
        bool b => b ? "True" : "False",
        int i => i.ToString(CultureInfo.InvariantCulture),
        string s when s.Length == 0 && EmptyIsNone => "None",
        _ => value.ToString() ?? "",
    };
}

/// <summary>A value that does not fit a setting: the message says what is allowed.</summary>
internal sealed class SettingValueException(string message) : Exception(message);
