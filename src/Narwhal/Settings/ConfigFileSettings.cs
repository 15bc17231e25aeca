namespace Narwhal.Settings;

/// <summary>Where the configuration comes from, and the checks that stop after reading it.</summary>
internal static class ConfigFileSettings
{
    public const string DefaultFile = "./gunicorn.conf.py";

    public static readonly Setting<string> Config = SettingsRegistry.Add(new Setting<string>
    {
        Name = "config", Section = Sections.ConfigFile, Cli = ["-c", "--config"], Meta = "CONFIG",
        Default = () => DefaultFile, Validate = raw => raw.Trim(),
        Desc = "The Gunicorn config file: PATH, file:PATH or python:MODULE_NAME. It is Python, run by the app's interpreter. " +
               "Without it, ./gunicorn.conf.py is read when it exists; a file given here replaces that one.",
    });

    public static readonly Setting<bool> CheckConfig = SettingsRegistry.Add(new Setting<bool>
    {
        Name = "check_config", Section = Sections.Debugging, Cli = ["--check-config"], Action = CliAction.StoreTrue,
        Default = () => false, Validate = Validators.Bool,
        Desc = "Check the configuration and that the app loads, then exit: 0 if both are right, 1 (with the reason) if not.",
    });

    public static readonly Setting<bool> PrintConfig = SettingsRegistry.Add(new Setting<bool>
    {
        Name = "print_config", Section = Sections.Debugging, Cli = ["--print-config"], Action = CliAction.StoreTrue,
        Default = () => false, Validate = Validators.Bool,
        Desc = "Print the effective value of every setting, then check as --check-config does.",
    });

    public static readonly Setting<bool> Spew = SettingsRegistry.Add(new Setting<bool>
    {
        Name = "spew", Section = Sections.Debugging, Cli = ["--spew"], Action = CliAction.StoreTrue,
        Default = () => false, Validate = Validators.Bool,
        Desc = "Install a trace function in each worker that prints every line of Python executed. This is the nuclear option.",
        Narwhal = "Traces the Python code of the worker (the app and its hooks); the server itself is not Python.",
    });

    static ConfigFileSettings() { }

    public static void Register() { }
}
