using Narwhal.Settings;

namespace Narwhal.Cli;

/// <summary>What the command line asked for: its settings, APP_MODULE, and --help/--version.</summary>
internal sealed record CommandLineResult(SettingsLayer Layer, string? App, bool ShowHelp, bool ShowVersion);

/// <summary>A command line that does not parse; exits 2 as Gunicorn's argparse does.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>
/// Parses argv the way Gunicorn's argparse does: <c>--flag value</c>, <c>--flag=value</c>,
/// <c>-b value</c>, <c>-bvalue</c>, options before or after APP_MODULE, <c>--</c> ends options,
/// a long option shortened to an unambiguous prefix.
/// </summary>
internal static class CommandLine
{
    public static CommandLineResult Parse(IReadOnlyList<string> args)
    {
        var layer = new SettingsLayer();
        var byFlag = new Dictionary<string, Setting>(StringComparer.Ordinal);
        foreach (var s in SettingsRegistry.All)
            foreach (var flag in s.Cli) byFlag[flag] = s;

        bool help = false, version = false, optionsEnded = false;
        var positional = new List<string>();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (optionsEnded || arg == "-" || !arg.StartsWith('-'))
            {
                positional.Add(arg);
                continue;
            }
            if (arg == "--") { optionsEnded = true; continue; }

            string flag;
            string? inline = null;
            if (arg.StartsWith("--"))
            {
                var eq = arg.IndexOf('=');
                flag = ExpandPrefix(eq > 0 ? arg[..eq] : arg, arg, byFlag);
                if (eq > 0) inline = arg[(eq + 1)..];
            }
            else
            {
                flag = arg[..2];
                if (arg.Length > 2) inline = arg[2..];
            }
            if (flag is "-h" or "--help") { help = true; continue; }
            if (flag is "-v" or "--version") { version = true; continue; }

            if (!byFlag.TryGetValue(flag, out var setting))
                throw new UsageException($"unrecognized arguments: {arg}{Suggest(flag, byFlag.Keys)}");

            if (setting.Action is CliAction.StoreTrue or CliAction.StoreFalse)
            {
                if (inline != null) throw new UsageException($"argument {string.Join("/", setting.Cli)}: ignored explicit argument '{inline}'");
                layer.Parse(setting, setting.Action == CliAction.StoreTrue ? "true" : "false");
                continue;
            }
            if (setting.Action == CliAction.OptionalValue && inline == null)
                inline = i + 1 < args.Count && setting.Choices.Contains(args[i + 1]) ? args[++i] : setting.Const;
            var value = inline ?? (i + 1 < args.Count ? args[++i] : throw new UsageException($"argument {string.Join("/", setting.Cli)}: expected one argument"));
            try
            {
                layer.Parse(setting, value);
            }
            catch (SettingValueException e)
            {
                throw new UsageException($"argument {string.Join("/", setting.Cli)}: {e.Message}");
            }
        }

        if (positional.Count > 1)
            throw new UsageException($"unrecognized arguments: {string.Join(' ', positional.Skip(1))}");
        return new CommandLineResult(layer, positional.Count == 1 ? positional[0] : null, help, version);
    }

    /// <summary>
    /// argparse's allow_abbrev, on by default in Gunicorn: a long option may be shortened to any
    /// prefix that only one option has (<c>--thread</c>, <c>--bi</c>); an exact name always wins.
    /// A prefix several options share is refused with argparse's message, listing them in the
    /// parser's order. No match is left for the caller's "unrecognized arguments".
    /// </summary>
    private static string ExpandPrefix(string flag, string arg, Dictionary<string, Setting> byFlag)
    {
        if (flag is "--help" or "--version" || byFlag.ContainsKey(flag)) return flag;
        var matches = LongOptions().Where(o => o.StartsWith(flag, StringComparison.Ordinal)).ToList();
        if (matches.Count > 1)
            throw new UsageException($"ambiguous option: {arg} could match {string.Join(", ", matches)}");
        return matches.Count == 1 ? matches[0] : flag;
    }

    /// <summary>The long options in the order Gunicorn's parser adds them (and --help lists them).</summary>
    private static IEnumerable<string> LongOptions() =>
        new[] { "--help", "--version" }.Concat(
            Sections.Order.SelectMany(section => SettingsRegistry.All.Where(s => s.Section == section))
                .SelectMany(s => s.Cli).Where(f => f.StartsWith("--")));

    private static string Suggest(string flag, IEnumerable<string> known)
    {
        var best = known.Where(k => k.StartsWith("--"))
            .Select(k => (k, d: Distance(flag, k)))
            .OrderBy(t => t.d).FirstOrDefault();
        return best.k != null && best.d <= Math.Max(2, flag.Length / 3) ? $" (did you mean {best.k}?)" : "";
    }

    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (var j = 0; j <= b.Length; j++) d[0, j] = j;
        for (var i = 1; i <= a.Length; i++)
            for (var j = 1; j <= b.Length; j++)
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
        return d[a.Length, b.Length];
    }
}
