namespace Narwhal.Settings;

/// <summary>
/// Gunicorn settings that choose machinery Narwhal replaces (worker classes, PasteDeploy,
/// sendfile, upload spooling). Each is accepted where Narwhal behaves the same, and refused
/// with the reason where it cannot.
/// </summary>
internal static class CompatSettings
{
    /// <summary>The worker classes whose semantics Narwhal's threaded WSGI worker provides.</summary>
    public static readonly string[] WsgiWorkerClasses =
        ["sync", "gthread", "gunicorn.workers.sync.SyncWorker", "gunicorn.workers.gthread.ThreadWorker"];

    /// <summary>The names of the ASGI worker: Gunicorn 24+'s own, and uvicorn's for Gunicorn, which existing configs name.</summary>
    public static readonly string[] LoopWorkerClasses =
        ["asgi", "gunicorn.workers.gasgi.ASGIWorker", "uvicorn.workers.UvicornWorker", "uvicorn.workers.UvicornH11Worker"];

    /// <summary>Gunicorn's gevent workers (its pywsgi variants serve the same WSGI apps the same way here).</summary>
    public static readonly string[] GeventWorkerClasses =
        ["gevent", "gevent_wsgi", "gevent_pywsgi", "gunicorn.workers.ggevent.GeventWorker", "gunicorn.workers.ggevent.GeventPyWSGIWorker"];

    public static readonly string[] EventletWorkerClasses = ["eventlet", "gunicorn.workers.geventlet.EventletWorker"];

    public static readonly string[] TornadoWorkerClasses = ["tornado", "gunicorn.workers.gtornado.TornadoWorker"];

    public static readonly string[] ServedWorkerClasses =
        [.. WsgiWorkerClasses, .. LoopWorkerClasses, .. GeventWorkerClasses, .. EventletWorkerClasses, .. TornadoWorkerClasses];

    /// <summary>Which of Narwhal's workers the configured worker class names.</summary>
    public static WorkerKind KindOf(Config config) => KindOf(config.Get(WorkerClass));

    public static WorkerKind KindOf(string workerClass) =>
        LoopWorkerClasses.Contains(workerClass) ? WorkerKind.Asgi
        : GeventWorkerClasses.Contains(workerClass) ? WorkerKind.Gevent
        : EventletWorkerClasses.Contains(workerClass) ? WorkerKind.Eventlet
        : TornadoWorkerClasses.Contains(workerClass) ? WorkerKind.Tornado
        : WorkerKind.Threads;

    public static readonly Setting<string> WorkerClass = SettingsRegistry.Add(new Setting<string>
    {
        Name = "worker_class", Section = Sections.WorkerProcesses, Cli = ["-k", "--worker-class"], Meta = "STRING",
        Default = () => "sync", Validate = raw => raw.Trim(), AcceptsStructured = true,
        Honour = v => ServedWorkerClasses.Contains(v) ? null
            : $"Narwhal serves WSGI apps with its threaded worker ('sync', 'gthread': use --threads) or with green threads ('gevent', 'eventlet'), " +
              $"ASGI apps with 'asgi' (also named 'uvicorn.workers.UvicornWorker') and Tornado apps with 'tornado'; '{v}' workers cannot run in it",
        Desc = "The type of workers: 'sync' or 'gthread' (the same Narwhal worker; --threads sets its Python threads) for WSGI apps; " +
               "'gevent' or 'eventlet' for WSGI apps on green threads (one per request, the interpreter monkey-patched); " +
               "'asgi' (or 'uvicorn.workers.UvicornWorker') for ASGI apps, on one event loop per worker; " +
               "'tornado' for tornado.web.Application apps (and WSGI apps, through Tornado's WSGIContainer).",
    });

    public static readonly Setting<int> WorkerConnections = SettingsRegistry.Add(new Setting<int>
    {
        Name = "worker_connections", Section = Sections.WorkerProcesses, Cli = ["--worker-connections"], Meta = "INT",
        Default = () => 1000, Validate = Validators.NonNegativeInt,
        Desc = "The maximum number of simultaneous connections per worker, 0 for no limit. The threaded worker (sync, gthread) answers a " +
               "connection past it with a 503 and closes it; the event-loop workers (asgi, gevent, eventlet, tornado) stop accepting at the " +
               "limit, as Gunicorn's async workers do, so further connections wait in the kernel's queue or go to another worker. " +
               "The gevent and eventlet workers also run at most this many requests at once (Gunicorn's pool size).",
        Narwhal = "Gunicorn's sync worker ignores it and its gthread worker leaves extra connections waiting; Narwhal's threaded worker answers them with a 503.",
    });

    public static readonly Setting<bool> Sendfile = SettingsRegistry.Add(new Setting<bool>
    {
        Name = "sendfile", Section = Sections.ServerMechanics, Cli = ["--no-sendfile"], Action = CliAction.StoreFalse,
        Default = () => Environment.GetEnvironmentVariable("SENDFILE")?.ToLowerInvariant() is null or "y" or "1" or "yes" or "true",
        DefaultDoc = "None (on unless $SENDFILE says otherwise)", Validate = Validators.Bool,
        Desc = "Send wsgi.file_wrapper files without Python in the loop; --no-sendfile iterates them in Python instead.",
    });

    public static readonly Setting<string> TmpUploadDir = SettingsRegistry.Add(new Setting<string>
    {
        Name = "tmp_upload_dir", Section = Sections.ServerMechanics, Meta = "DIR",
        Default = () => "", Validate = raw => raw.Trim(),
        Desc = "Directory to store temporary request data in. Gunicorn does not use it; neither does Narwhal (bodies stream to the app).",
    });

    public static readonly Setting<string> Paste = SettingsRegistry.Add(new Setting<string>
    {
        Name = "paste", Section = Sections.ServerMechanics, Cli = ["--paste", "--paster"], Meta = "STRING",
        Default = () => "", Validate = raw => raw.Trim(),
        Honour = v => v.Length == 0 ? null : "Narwhal does not load PasteDeploy configurations; give the WSGI app as MODULE:VARIABLE",
        Desc = "Load a PasteDeploy config file (FILE#SECTION).",
    });

    public static readonly Setting<List<string>> PasteGlobalConf = SettingsRegistry.Add(new Setting<List<string>>
    {
        Name = "raw_paste_global_conf", Section = Sections.ServerMechanics, Cli = ["--paste-global"], Meta = "CONF",
        Action = CliAction.Append, Default = () => [], Validate = Validators.OneItem,
        Honour = v => v.Count == 0 ? null : "Narwhal does not load PasteDeploy configurations",
        Desc = "A PasteDeploy global config variable, KEY=VALUE. May be given several times.",
    });

    public static readonly Setting<string> DefaultProcName = SettingsRegistry.Add(new Setting<string>
    {
        Name = "default_proc_name", Section = Sections.ProcessNaming, Default = () => "", DefaultDoc = "the app module",
        Validate = raw => raw.Trim(),
        Desc = "The process name used when proc_name is not set; the app module by default.",
    });

    static CompatSettings() { }

    public static void Register() { }
}

/// <summary>Narwhal's workers, by what runs the app.</summary>
internal enum WorkerKind
{
    /// <summary>sync/gthread: WSGI on the worker's Python threads.</summary>
    Threads,
    /// <summary>ASGI on an asyncio event loop.</summary>
    Asgi,
    /// <summary>WSGI on gevent's hub, one greenlet per request.</summary>
    Gevent,
    /// <summary>WSGI on eventlet's hub, one green thread per request.</summary>
    Eventlet,
    /// <summary>A Tornado application on the asyncio event loop.</summary>
    Tornado,
}
