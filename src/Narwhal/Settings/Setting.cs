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
}

/// <summary>
/// One setting, declared once: its declaration drives the command line, <c>--help</c> and
/// (in later issues) the config file, <c>GUNICORN_CMD_ARGS</c>, <c>--print-config</c> and docs.
/// </summary>
internal abstract class Setting
{
    public required string Name { get; init; }
    public required string Section { get; init; }
    public string[] Cli { get; init; } = [];
    public string? Meta { get; init; }
    public CliAction Action { get; init; } = CliAction.Store;
    public required string Desc { get; init; }
    /// <summary>The default as shown in <c>--help</c> and docs (may differ from the literal, e.g. depends on $PORT).</summary>
    public abstract string DefaultText { get; }

    public abstract object DefaultValue();

    /// <summary>Turns one command-line value into the setting's value, adding to <paramref name="current"/> for lists.</summary>
    public abstract object Parse(string raw, object current);
}

/// <summary>A setting of type <typeparamref name="T"/>, with a validator that turns text into a value or explains why not.</summary>
internal sealed class Setting<T> : Setting where T : notnull
{
    public required Func<T> Default { get; init; }
    public required Func<string, T> Validate { get; init; }
    public string? DefaultDoc { get; init; }

    public override string DefaultText => DefaultDoc ?? Format(Default());

    public override object DefaultValue() => Default();

    public override object Parse(string raw, object current)
    {
        var value = Validate(raw);
        if (Action == CliAction.Append && current is IReadOnlyList<string> list && value is IReadOnlyList<string> add)
            return list.Concat(add).ToList();
        return value;
    }

    private static string Format(T value) => value switch
    {
        IEnumerable<string> list => "[" + string.Join(", ", list.Select(s => $"'{s}'")) + "]",
        bool b => b ? "True" : "False",
        _ => value.ToString() ?? "",
    };
}

/// <summary>A value that does not fit a setting: the message says what is allowed.</summary>
internal sealed class SettingValueException(string message) : Exception(message);
