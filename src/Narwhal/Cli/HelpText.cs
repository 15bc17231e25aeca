using System.Text;
using Narwhal.Settings;

namespace Narwhal.Cli;

/// <summary>Builds <c>--help</c> from the settings registry, grouped by Gunicorn's sections.</summary>
internal static class HelpText
{
    public const string Usage = "usage: narwhal [OPTIONS] [APP_MODULE]";

    public static string Build()
    {
        var sb = new StringBuilder();
        sb.AppendLine(Usage).AppendLine();
        sb.AppendLine("A Gunicorn-compatible WSGI HTTP server: Kestrel in front, CPython embedded.");
        sb.AppendLine("Settings also come from the config file (-c, or ./gunicorn.conf.py) and $GUNICORN_CMD_ARGS; see docs/settings.md.").AppendLine();
        sb.AppendLine("positional arguments:");
        sb.AppendLine($"  {"APP_MODULE",-28}{ServerSettings.WsgiApp.Desc}").AppendLine();
        sb.AppendLine("options:");
        sb.AppendLine($"  {"-h, --help",-28}show this help message and exit");
        sb.AppendLine($"  {"-v, --version",-28}show program's version number and exit");
        foreach (var section in Sections.Order)
        {
            var group = SettingsRegistry.All.Where(s => s.Cli.Length > 0 && s.Section == section).ToList();
            if (group.Count == 0) continue;
            sb.AppendLine().AppendLine($"{section}:");
            foreach (var s in group)
            {
                var flags = string.Join(", ", s.Cli) + (s.Action is CliAction.StoreTrue or CliAction.StoreFalse ? "" : $" {s.Meta ?? s.Name.ToUpperInvariant()}");
                sb.AppendLine($"  {flags,-28}{s.Desc} [{s.DefaultText}]");
            }
        }
        return sb.ToString();
    }
}
