using Narwhal.Master;

namespace Narwhal.Tests.Master;

/// <summary>What the master says to systemd for each turn of events, as datagrams of lines.</summary>
public sealed class ServiceNotifierTests
{
    private readonly List<string> _sent = [];

    private ServiceNotifier Notifier(bool announceMainPid = false) =>
        new(lines => { _sent.Add(string.Join("|", lines)); return null; }, 100, announceMainPid);

    [Fact]
    public void ReadyOnlyOnceTheWholeGenerationServesThenOnlyStatusChanges()
    {
        var n = Notifier();
        n.Workers(0, 2, generationServes: false);
        n.Workers(1, 2, generationServes: false);
        n.Workers(1, 2, generationServes: false);
        n.Workers(2, 2, generationServes: true);
        n.Workers(2, 2, generationServes: true);
        n.Workers(1, 2, generationServes: false); // one died; its replacement boots
        Assert.Equal([
            "STATUS=0 workers serving, 2 wanted",
            "STATUS=1 worker serving, 2 wanted",
            "READY=1|STATUS=2 workers serving",
            "STATUS=1 worker serving, 2 wanted",
        ], _sent);
    }

    [Fact]
    public void ReloadIsFollowedByReadyWhenTheNewGenerationServes()
    {
        var n = Notifier();
        n.Workers(2, 2, generationServes: true);
        n.Reloading(123456);
        n.Workers(2, 2, generationServes: false);
        n.Workers(2, 2, generationServes: true);
        Assert.Equal([
            "READY=1|STATUS=2 workers serving",
            "RELOADING=1|MONOTONIC_USEC=123456|STATUS=reloading",
            "STATUS=reloading, 2 workers serving, 2 wanted",
            "READY=1|STATUS=2 workers serving",
        ], _sent);
    }

    [Fact]
    public void UsrTwoMasterNamesItselfAndHandsBackOnStop()
    {
        var n = Notifier(announceMainPid: true);
        n.Workers(1, 1, generationServes: true);
        n.Stopping(heir: 42);
        n.Stopping(heir: null);
        n.Workers(0, 1, generationServes: false);
        Assert.Equal(["MAINPID=100|READY=1|STATUS=1 worker serving", "MAINPID=42"], _sent);
    }

    [Fact]
    public void SilentWhileItsUsrTwoMasterRunsAndReclaimsWhenItGoes()
    {
        var n = Notifier();
        n.Workers(1, 1, generationServes: true);
        n.HandOver();
        n.Workers(0, 0, generationServes: true); // WINCH
        n.Reloading(1);
        n.TakeBack();
        n.Workers(1, 1, generationServes: true);
        n.Stopping(heir: null);
        Assert.Equal([
            "READY=1|STATUS=1 worker serving",
            "MAINPID=100|READY=1|STATUS=1 worker serving",
            "STOPPING=1|STATUS=stopping",
        ], _sent);
    }
}
