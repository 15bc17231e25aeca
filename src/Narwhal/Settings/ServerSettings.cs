namespace Narwhal.Settings;

/// <summary>
/// The settings of the worker core. Each is declared once here; later issues add the rest of
/// Gunicorn's settings in files of their own, one per section.
/// </summary>
internal static class ServerSettings
{
    public static readonly Setting<List<string>> Bind = SettingsRegistry.Add(new Setting<List<string>>
    {
        Name = "bind", Section = Sections.ServerSocket, Cli = ["-b", "--bind"], Meta = "ADDRESS",
        Action = CliAction.Append,
        // Matches Gunicorn: 0.0.0.0:$PORT when PORT is set (Heroku and friends), else loopback.
        Default = () => Environment.GetEnvironmentVariable("PORT") is { Length: > 0 } port
            ? [$"0.0.0.0:{port}"] : ["127.0.0.1:8000"],
        DefaultDoc = "['127.0.0.1:8000'] (['0.0.0.0:$PORT'] when PORT is set)",
        Validate = Validators.Address,
        Desc = "The socket to bind: HOST, HOST:PORT, [IPv6]:PORT, unix:PATH or fd://FD. May be given several times.",
    });

    public static readonly Setting<int> Threads = SettingsRegistry.Add(new Setting<int>
    {
        Name = "threads", Section = Sections.WorkerProcesses, Cli = ["--threads"], Meta = "INT",
        Default = () => 1, Validate = Validators.PositiveInt,
        Desc = "The number of Python threads per worker for handling requests; each keeps one thread state.",
    });

    public static readonly Setting<int> KeepAlive = SettingsRegistry.Add(new Setting<int>
    {
        Name = "keepalive", Section = Sections.WorkerProcesses, Cli = ["--keep-alive"], Meta = "INT",
        // Matches Gunicorn's default keepalive.
        Default = () => 2, Validate = Validators.NonNegativeInt,
        Desc = "The number of seconds to wait for the next request on a Keep-Alive HTTP connection.",
    });

    public static readonly Setting<string> Chdir = SettingsRegistry.Add(new Setting<string>
    {
        Name = "chdir", Section = Sections.ServerMechanics, Cli = ["--chdir"], Meta = "DIR",
        Default = System.IO.Directory.GetCurrentDirectory, DefaultDoc = "the current directory",
        Validate = Validators.Directory,
        Desc = "Change directory to DIR before loading the app; DIR is put first on sys.path.",
    });

    public static readonly Setting<List<string>> PythonPath = SettingsRegistry.Add(new Setting<List<string>>
    {
        Name = "pythonpath", Section = Sections.ServerMechanics, Cli = ["--pythonpath"], Meta = "STRING",
        Default = () => [], DefaultDoc = "None", Validate = Validators.CommaList,
        Desc = "A comma-separated list of directories to add to the Python path, e.g. '/home/djangoprojects/myproject,/home/python/mylibrary'.",
    });

    public static readonly Setting<List<string>> RawEnv = SettingsRegistry.Add(new Setting<List<string>>
    {
        Name = "raw_env", Section = Sections.ServerMechanics, Cli = ["-e", "--env"], Meta = "ENV",
        Action = CliAction.Append, Default = () => [], Validate = Validators.KeyValue,
        Desc = "Set environment variables in the execution environment: -e KEY=VALUE, may be given several times.",
    });

    public static readonly Setting<string> Python = SettingsRegistry.Add(new Setting<string>
    {
        Name = "python", Section = Sections.Python, Cli = ["--python"], Meta = "PATH",
        Default = () => "", DefaultDoc = "$VIRTUAL_ENV/bin/python, else the python3 beside the narwhal binary (the venv pip installed it into), else python3 on PATH",
        Validate = Validators.String,
        Desc = "The Python interpreter whose libpython, packages and virtualenv the app runs with.",
    });

    public static readonly Setting<string> WsgiApp = SettingsRegistry.Add(new Setting<string>
    {
        Name = "wsgi_app", Section = Sections.ConfigFile, Meta = "APP_MODULE",
        Default = () => "", DefaultDoc = "None", Validate = Validators.String,
        Desc = "The WSGI application: MODULE, MODULE:VARIABLE or MODULE:FACTORY(ARGS) with literal arguments.",
    });

    // An explicit static constructor drops beforefieldinit, so calling Register() is
    // guaranteed to run the field initializers above, in declaration order.
    static ServerSettings() { }

    /// <summary>Makes sure every setting above is in the registry.</summary>
    public static void Register() { }
}
