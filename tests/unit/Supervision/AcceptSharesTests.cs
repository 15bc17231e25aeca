using Narwhal.Supervision;

namespace Narwhal.Tests.Supervision;

/// <summary>
/// The accept shares table over a real memfd, as the master and two workers use it: the
/// workers' views are second mappings of the same memory (through /proc/self/fd), as a
/// worker process maps the descriptor it inherited.
/// </summary>
public sealed class AcceptSharesTests : IDisposable
{
    private readonly AcceptShares _master = AcceptShares.Create();
    private readonly AcceptShares _first;
    private readonly AcceptShares _second;

    public AcceptSharesTests()
    {
        _master.Assign(0);
        _master.Assign(1);
        _first = WorkerView();
        _second = WorkerView();
    }

    private AcceptShares WorkerView()
    {
        var handle = File.OpenHandle($"/proc/self/fd/{_master.Fd}", FileMode.Open, FileAccess.ReadWrite);
        var fd = (int)handle.DangerousGetHandle();
        handle.SetHandleAsInvalid(); // Open closes it once mapped
        return AcceptShares.Open(fd);
    }

    public void Dispose()
    {
        _first.Dispose();
        _second.Dispose();
        _master.Dispose();
    }

    [Fact]
    public void OneWorkersCountsReachTheOthersMapping()
    {
        _first.Publish(0, accepting: true, free: true);
        for (var i = 0; i < 3; i++) _first.Opened(0);
        _first.Closed(0);
        Assert.True(_second.IsAccepting(0));
        Assert.Equal(new SharePeer(true, 2), _second.Read(0));
    }

    [Fact]
    public void AWorkerAheadOfAnAcceptingPeerYieldsAndTakesOnceItCatchesUp()
    {
        _first.Publish(0, accepting: true, free: true);
        _second.Publish(1, accepting: true, free: true);
        for (var i = 0; i < 3; i++) _first.Opened(0);
        Assert.False(_first.TakesNow(0, free: true));
        Assert.True(_second.TakesNow(1, free: true));
        _second.Opened(1);
        _second.Opened(1);
        Assert.False(_first.TakesNow(0, free: true)); // 3 against 2
        _second.Opened(1);
        Assert.True(_first.TakesNow(0, free: true));
    }

    [Fact]
    public void APeerThatDoesNotAcceptIsNotCounted()
    {
        _first.Publish(0, accepting: true, free: true);
        _second.Publish(1, accepting: false, free: false);
        for (var i = 0; i < 5; i++) _first.Opened(0);
        Assert.True(_first.TakesNow(0, free: true));
    }

    [Fact]
    public void AfterAYieldInVainABusyPeerCountsToo()
    {
        _first.Publish(0, accepting: true, free: false);
        _second.Publish(1, accepting: true, free: false);
        _first.Opened(0);
        Assert.False(_first.TakesNow(0, free: false, YieldStage.InVain));
        Assert.True(_second.TakesNow(1, free: false, YieldStage.InVain));
    }

    [Fact]
    public void TakesNowPublishesWhetherThisWorkerIsFree()
    {
        _first.Publish(0, accepting: true, free: true);
        _first.TakesNow(0, free: false);
        Assert.False(_second.Read(0).Free);
    }

    [Fact]
    public void TheMasterClearsTheSlotOfAWorkerThatDied()
    {
        _first.Publish(0, accepting: true, free: true);
        _second.Publish(1, accepting: true, free: true);
        _first.Opened(0);
        Assert.False(_first.TakesNow(0, free: true)); // the peer with none should take it
        _master.Clear(1);
        Assert.False(_first.IsAccepting(1));
        Assert.Equal(default, _first.Read(1));
        Assert.True(_first.TakesNow(0, free: true));
    }

    [Fact]
    public void AssignEmptiesASlotBeforeItsNextWorker()
    {
        _second.Publish(1, accepting: true, free: true);
        _second.Opened(1);
        _master.Assign(1);
        Assert.False(_first.IsAccepting(1));
        Assert.Equal(0, _first.Read(1).Connections);
    }

    [Fact]
    public void SlotsPastTheTableAreRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => _master.Assign(AcceptShares.Capacity));
    }
}
