using Narwhal.Cli;
using Narwhal.Logging;
using Narwhal.Posix;
using Narwhal.Settings;

namespace Narwhal.Master;

/// <summary>The arbiter's answer to each signal, taken from the queue by its main loop (Gunicorn's handle_* methods).</summary>
internal sealed partial class Arbiter
{
    /// <summary>TERM, INT and QUIT end the master; HUP reloads; TTIN/TTOU add or remove a worker; USR1 reopens logs; USR2 re-executes; WINCH stops the workers.</summary>
    private void Handle(int signal)
    {
        switch (signal)
        {
            case Unix.SIGTERM:
                throw new HaltException("", Program.ExitOk);
            case Unix.SIGINT:
            case Unix.SIGQUIT:
                Notify(n => n.Stopping(heir: _reexec.Partner));
                Stop(graceful: false);
                throw new HaltException("", Program.ExitOk);
            case Unix.SIGHUP:
                ErrorLog.Info($"Hang up: {MasterName}");
                Notify(n => n.Reloading(NotifySocket.MonotonicMicroseconds()));
                Reload();
                break;
            case Unix.SIGTTIN:
                SetDesired(_desired + 1);
                ManageWorkers();
                break;
            case Unix.SIGTTOU:
                if (_desired > 1) SetDesired(_desired - 1);
                ManageWorkers();
                break;
            case Unix.SIGUSR1:
                LogSetup.Reopen();
                foreach (var w in _workers) Unix.Kill(w.Pid, Unix.SIGUSR1);
                break;
            case Unix.SIGUSR2:
                _reexec.Start(_listeners.Select(l => l.Fd), () => Hook(HookSettings.PreExec.Name), _notifySocket?.Address);
                if (_reexec.HasChild) Notify(n => n.HandOver());
                break;
            case Unix.SIGWINCH:
                // Gunicorn honours WINCH only when daemonized, because a terminal sends it on
                // every resize. Without a controlling terminal (systemd, Docker, nohup) it can
                // only come from kill, so it is honoured there too.
                if (_daemonized || !Unix.HasControllingTerminal())
                {
                    ErrorLog.Info("graceful stop of workers");
                    SetDesired(0);
                    foreach (var w in _workers) Retire(w, now: true);
                }
                else
                {
                    ErrorLog.Debug("SIGWINCH ignored. Not daemonized");
                }
                break;
        }
    }

    /// <summary>
    /// HUP: re-reads the configuration and replaces every worker. Old workers keep serving
    /// until their replacements are up, then leave gracefully (Gunicorn stops them at once).
    /// </summary>
    private void Reload()
    {
        try
        {
            var cli = CommandLine.Parse(_args);
            var fresh = ConfigLoader.Load(cli.Layer, EnvironmentArgs.Read(), cli.App);
            LogSetup.Apply(fresh, Owner.Uid(fresh), Owner.Gid(fresh));
            Settings.ConfigFile.Publish(fresh, Environment.ProcessId);
            _config = fresh;
            LogConfiguration();
        }
        catch (Exception e) when (e is UsageException or ConfigException)
        {
            ErrorLog.Error($"Reload failed, keeping the current configuration: {e.Message}");
        }
        _procName = ProcName.Of(_config) + (_reexec.HasParent ? ".2" : "");
        ProcessTitle.Set($"master [{_procName}]");
        Hook(HookSettings.OnReload.Name);
        SetDesired(_config.Get(ProcessSettings.Workers));
        foreach (var w in _workers) Retire(w, now: false);
        ManageWorkers();
    }
}
