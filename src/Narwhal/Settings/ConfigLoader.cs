using Narwhal.Python;

namespace Narwhal.Settings;

/// <summary>
/// Builds the effective configuration in Gunicorn's order: defaults, then the config file,
/// then GUNICORN_CMD_ARGS (and NARWHAL_CMD_ARGS), then the command line. The master, every
/// worker and a HUP reload all build it the same way from the same argv and environment.
/// </summary>
internal static class ConfigLoader
{
    /// <summary>Set by the master for its workers: "PATH\nTEXT" of the config file it evaluated.</summary>
    public const string SnapshotVariable = "NARWHAL_CONFIG_SOURCE";

    /// <summary>The value of <see cref="SnapshotVariable"/> that hands <paramref name="config"/>'s file to a worker, or null.</summary>
    public static string? Snapshot(Config config) =>
        config.FileSource is { } text ? config.Get(ConfigFileSettings.Config) + "\n" + text : null;

    /// <summary>
    /// The configuration from the command line's settings and APP_MODULE and those of
    /// GUNICORN_CMD_ARGS (parsed by Cli/), or a <see cref="ConfigException"/> (exit 1).
    /// </summary>
    public static Config Load(SettingsLayer cli, SettingsLayer env, string? app)
    {
        // Taken out of the environment before Python starts: the app must not see it.
        var snapshot = Environment.GetEnvironmentVariable(SnapshotVariable);
        if (snapshot != null) Posix.Environ.Unset(SnapshotVariable);

        var config = new Config();
        var file = FileToRead(cli, env);
        if (file != null)
        {
            // The interpreter that reads the file comes from the command line or the
            // environment: the file cannot choose the Python that runs it.
            var python = cli.Get(ServerSettings.Python) ?? env.Get(ServerSettings.Python) ?? "";
            try
            {
                EmbeddedPython.Start(PythonInstallation.Find(python.Length == 0 ? null : python));
            }
            catch (PythonNotUsableException e)
            {
                throw new ConfigException($"Failed to read config file: {file}: {e.Message}");
            }
            var source = SourceOf(file, snapshot);
            config.FileSource = source;
            foreach (var (setting, value) in ConfigFile.Evaluate(file, source))
            {
                if (setting == ServerSettings.Python)
                    throw new ConfigException("Invalid value for python: it picks the interpreter that reads the config file; give it with --python or in GUNICORN_CMD_ARGS");
                try
                {
                    config.Set(setting, setting.FromFile(value));
                }
                catch (SettingValueException e)
                {
                    throw new ConfigException($"Invalid value for {setting.Name}: {e.Message}");
                }
            }
            config.Set(ConfigFileSettings.Config, file);
        }
        config.Apply(env);
        config.Apply(cli);
        if (app != null) config.Set(ServerSettings.WsgiApp, app);
        CheckHonoured(config);
        return config;
    }

    /// <summary>The master's snapshot when this is one of its workers, else the file as it is now (null for python: modules).</summary>
    private static string? SourceOf(string file, string? snapshot)
    {
        if (snapshot != null && snapshot.IndexOf('\n') is var newline and > 0 && snapshot[..newline] == file)
            return snapshot[(newline + 1)..];
        if (file.StartsWith("python:")) return null;
        var path = file.StartsWith("file:") ? file["file:".Length..] : file;
        if (!File.Exists(path)) throw new ConfigException($"Failed to read config file: {file}: '{path}' doesn't exist");
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException($"Failed to read config file: {file}: {e.Message}");
        }
    }

    /// <summary>-c from the command line, else from GUNICORN_CMD_ARGS, else ./gunicorn.conf.py when it exists.</summary>
    private static string? FileToRead(SettingsLayer cli, SettingsLayer env)
    {
        if (cli.Get(ConfigFileSettings.Config) is { Length: > 0 } given) return given;
        if (env.Get(ConfigFileSettings.Config) is { Length: > 0 } fromEnv) return fromEnv;
        return File.Exists(ConfigFileSettings.DefaultFile) ? ConfigFileSettings.DefaultFile : null;
    }

    /// <summary>A setting Narwhal cannot honour is refused with the reason, never silently ignored.</summary>
    private static void CheckHonoured(Config config)
    {
        var problems = SettingsRegistry.All
            .Select(s => (s, why: s.CannotHonour(config.Get(s))))
            .Where(p => p.why != null)
            .Select(p => $"{p.s.Name} = {p.s.Show(config.Get(p.s))}: {p.why}")
            .ToList();
        if (problems.Count > 0) throw new ConfigException(string.Join("\n", problems));
    }
}
