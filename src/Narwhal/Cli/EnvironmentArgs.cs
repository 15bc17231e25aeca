using Narwhal.Settings;

namespace Narwhal.Cli;

/// <summary>
/// GUNICORN_CMD_ARGS (and NARWHAL_CMD_ARGS): command-line options given in the environment,
/// parsed as argv is. <see cref="ConfigLoader"/> ranks them above the config file and below
/// the command line; they are parsed here so that Settings/ needs no command-line parser.
/// </summary>
internal static class EnvironmentArgs
{
    public static readonly string[] Variables = ["GUNICORN_CMD_ARGS", "NARWHAL_CMD_ARGS"];

    /// <summary>The settings these variables give, or a <see cref="UsageException"/> naming the variable.</summary>
    public static SettingsLayer Read()
    {
        var env = new SettingsLayer();
        foreach (var variable in Variables)
        {
            if (Environment.GetEnvironmentVariable(variable) is not { Length: > 0 } text) continue;
            CommandLineResult parsed;
            try
            {
                parsed = CommandLine.Parse(ShellWords.Split(text));
            }
            catch (UsageException e)
            {
                throw new UsageException($"{variable}: {e.Message}");
            }
            foreach (var (setting, value) in parsed.Layer.Values) env.Set(setting, value);
        }
        return env;
    }
}
