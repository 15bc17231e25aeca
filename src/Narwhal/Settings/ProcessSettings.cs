using Narwhal.Posix;

namespace Narwhal.Settings;

/// <summary>The settings of the process model: the master, its workers and how they are supervised.</summary>
internal static class ProcessSettings
{
    public static readonly Setting<int> Workers = SettingsRegistry.Add(new Setting<int>
    {
        Name = "workers", Section = Sections.WorkerProcesses, Cli = ["-w", "--workers"], Meta = "INT",
        // Matches Gunicorn: $WEB_CONCURRENCY (set by Heroku and friends), else 1.
        Default = () => int.TryParse(Environment.GetEnvironmentVariable("WEB_CONCURRENCY"), out var n) && n > 0 ? n : 1,
        DefaultDoc = "1 ($WEB_CONCURRENCY when set)",
        Validate = Validators.PositiveInt,
        Desc = "The number of worker processes for handling requests.",
    });

    public static readonly Setting<int> Timeout = SettingsRegistry.Add(new Setting<int>
    {
        Name = "timeout", Section = Sections.WorkerProcesses, Cli = ["-t", "--timeout"], Meta = "INT",
        Default = () => 30, Validate = Validators.NonNegativeInt,
        Desc = "A worker whose request runs longer than this many seconds, or that stops answering the master, is replaced. 0 disables it.",
    });

    public static readonly Setting<int> GracefulTimeout = SettingsRegistry.Add(new Setting<int>
    {
        Name = "graceful_timeout", Section = Sections.WorkerProcesses, Cli = ["--graceful-timeout"], Meta = "INT",
        Default = () => 30, Validate = Validators.NonNegativeInt,
        Desc = "Seconds a stopping worker gets to finish its requests before it is killed.",
    });

    public static readonly Setting<int> MaxRequests = SettingsRegistry.Add(new Setting<int>
    {
        Name = "max_requests", Section = Sections.WorkerProcesses, Cli = ["--max-requests"], Meta = "INT",
        Default = () => 0, Validate = Validators.NonNegativeInt,
        Desc = "A worker is replaced after this many requests (a replacement starts first). 0 disables it.",
    });

    public static readonly Setting<int> MaxRequestsJitter = SettingsRegistry.Add(new Setting<int>
    {
        Name = "max_requests_jitter", Section = Sections.WorkerProcesses, Cli = ["--max-requests-jitter"], Meta = "INT",
        Default = () => 0, Validate = Validators.NonNegativeInt,
        Desc = "Adds a random 0..INT to max_requests per worker, so workers do not all restart at once.",
    });

    public static readonly Setting<int> MaxWorkerRss = SettingsRegistry.Add(new Setting<int>
    {
        Name = "max_worker_rss", Section = Sections.WorkerProcesses, Cli = ["--max-worker-rss"], Meta = "MiB",
        Default = () => 0, Validate = Validators.NonNegativeInt,
        Desc = "A worker whose resident memory stays above this many MiB (two checks a second apart) is replaced, a replacement starting first. 0 disables it.",
        Narwhal = "Narwhal only, as uWSGI's reload-on-rss and Granian's --workers-max-rss. The master reads each worker's RSS from /proc, so a stuck worker is replaced too. Set it above what a worker takes once the app is loaded.",
    });

    public static readonly Setting<int> Backlog = SettingsRegistry.Add(new Setting<int>
    {
        Name = "backlog", Section = Sections.ServerSocket, Cli = ["--backlog"], Meta = "INT",
        Default = () => 2048, Validate = Validators.PositiveInt,
        Desc = "The maximum number of pending connections per listening socket.",
    });

    public static readonly Setting<bool> ReusePort = SettingsRegistry.Add(new Setting<bool>
    {
        Name = "reuse_port", Section = Sections.ServerMechanics, Cli = ["--reuse-port"], Action = CliAction.StoreTrue,
        Default = () => false, Validate = Validators.Bool,
        Desc = "Give each worker its own SO_REUSEPORT socket per TCP bind, so the kernel spreads connections across workers.",
    });

    public static readonly Setting<bool> Preload = SettingsRegistry.Add(new Setting<bool>
    {
        Name = "preload_app", Section = Sections.ServerMechanics, Cli = ["--preload"], Action = CliAction.StoreTrue,
        Default = () => false, Validate = Validators.Bool,
        Desc = "Load the app once before starting workers, so an import error stops start-up at once. Workers still load their own copy (no fork).",
    });

    public static readonly Setting<bool> Daemon = SettingsRegistry.Add(new Setting<bool>
    {
        Name = "daemon", Section = Sections.ServerMechanics, Cli = ["-D", "--daemon"], Action = CliAction.StoreTrue,
        Default = () => false, Validate = Validators.Bool,
        Desc = "Detach from the terminal and run in the background.",
    });

    public static readonly Setting<string> Pidfile = SettingsRegistry.Add(new Setting<string>
    {
        Name = "pidfile", Section = Sections.ServerMechanics, Cli = ["-p", "--pid"], Meta = "FILE",
        Default = () => "", DefaultDoc = "None", Validate = Validators.String,
        Desc = "A filename to write the master's PID to.",
    });

    public static readonly Setting<string> WorkerTmpDir = SettingsRegistry.Add(new Setting<string>
    {
        Name = "worker_tmp_dir", Section = Sections.ServerMechanics, Cli = ["--worker-tmp-dir"], Meta = "DIR",
        Default = () => "", DefaultDoc = "None ($TMPDIR or /tmp)", Validate = Validators.Directory,
        Desc = "A directory for the workers' heartbeat files. /dev/shm avoids disk I/O.",
    });

    public static readonly Setting<string> User = SettingsRegistry.Add(new Setting<string>
    {
        Name = "user", Section = Sections.ServerMechanics, Cli = ["-u", "--user"], Meta = "USER",
        Default = () => Unix.EffectiveUserId.ToString(), DefaultDoc = "the current user", Validate = Validators.User,
        Desc = "Switch worker processes to run as this user (name or uid).",
    });

    public static readonly Setting<string> Group = SettingsRegistry.Add(new Setting<string>
    {
        Name = "group", Section = Sections.ServerMechanics, Cli = ["-g", "--group"], Meta = "GROUP",
        Default = () => Unix.EffectiveGroupId.ToString(), DefaultDoc = "the current group", Validate = Validators.Group,
        Desc = "Switch worker processes to run as this group (name or gid).",
    });

    public static readonly Setting<int> Umask = SettingsRegistry.Add(new Setting<int>
    {
        Name = "umask", Section = Sections.ServerMechanics, Cli = ["-m", "--umask"], Meta = "INT",
        Default = () => 0, Validate = Validators.AutoInt,
        Desc = "A bit mask for the file mode of files written by Narwhal (unix sockets, heartbeat files); '0o22' or '022'.",
    });

    public static readonly Setting<bool> InitGroups = SettingsRegistry.Add(new Setting<bool>
    {
        Name = "initgroups", Section = Sections.ServerMechanics, Cli = ["--initgroups"], Action = CliAction.StoreTrue,
        Default = () => false, Validate = Validators.Bool,
        Desc = "Give workers all the groups of --user, not only --group.",
    });

    public static readonly Setting<string> ProcName = SettingsRegistry.Add(new Setting<string>
    {
        Name = "proc_name", Section = Sections.ProcessNaming, Cli = ["-n", "--name"], Meta = "STRING",
        Default = () => "", DefaultDoc = "the app module", Validate = Validators.String,
        Desc = "The name in process titles: 'narwhal: master [NAME]', 'narwhal: worker [NAME]'.",
    });

    public static readonly Setting<bool> Reload = SettingsRegistry.Add(new Setting<bool>
    {
        Name = "reload", Section = Sections.Debugging, Cli = ["--reload"], Action = CliAction.StoreTrue,
        Default = () => false, Validate = Validators.Bool,
        Desc = "Replace workers when a Python source file of the app (or an extra file) changes.",
    });

    public static readonly Setting<string> ReloadEngine = SettingsRegistry.Add(new Setting<string>
    {
        Name = "reload_engine", Section = Sections.Debugging, Cli = ["--reload-engine"], Meta = "STRING",
        Default = () => "auto", Validate = raw => Validators.OneOf(raw, "auto", "poll", "inotify"),
        Desc = "How --reload notices changes: 'inotify', 'poll' (stat every second) or 'auto' (inotify).",
    });

    public static readonly Setting<List<string>> ReloadExtraFiles = SettingsRegistry.Add(new Setting<List<string>>
    {
        Name = "reload_extra_files", Section = Sections.Debugging, Cli = ["--reload-extra-file"], Meta = "FILES",
        Action = CliAction.Append, Default = () => [], DefaultDoc = "[]", Validate = Validators.OneItem,
        Desc = "Extra files (templates, configuration) whose change triggers --reload. May be given several times.",
    });

    static ProcessSettings() { }

    /// <summary>Makes sure every setting above is in the registry.</summary>
    public static void Register() { }
}
