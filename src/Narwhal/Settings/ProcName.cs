namespace Narwhal.Settings;

/// <summary>
/// The name in process titles and the syslog prefix: proc_name, else default_proc_name, else
/// the app module (Gunicorn's default_proc_name). Derived from settings only, so the master,
/// the workers and logging read it here rather than from one another.
/// </summary>
internal static class ProcName
{
    public static string Of(Config config) =>
        config.Get(ProcessSettings.ProcName) is { Length: > 0 } name ? name
        : config.Get(CompatSettings.DefaultProcName) is { Length: > 0 } fallback ? fallback
        : config.Get(ServerSettings.WsgiApp);
}
