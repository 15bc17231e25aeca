using Narwhal.Supervision;

namespace Narwhal.Tests.Supervision;

/// <summary>The accept decision of issue 13: who takes a waiting connection at once.</summary>
public sealed class ShareRuleTests
{
    private static SharePeer Free(int connections) => new(true, connections);
    private static SharePeer Busy(int connections) => new(false, connections);

    [Fact]
    public void AFreeWorkerAloneTakesEveryConnection()
    {
        Assert.True(ShareRule.TakesNow(Free(50), []));
    }

    [Fact]
    public void ABusyWorkerYieldsEvenWhenNoOtherSaysItIsFree()
    {
        // Another may be about to accept (booting, or another master's after USR2): the
        // stuck-worker test sends its request just as the slow one takes the only thread.
        Assert.False(ShareRule.TakesNow(Busy(0), []));
        Assert.False(ShareRule.TakesNow(Busy(0), [Busy(5)]));
    }

    [Fact]
    public void AfterAYieldInVainABusyWorkerAloneTakesIt()
    {
        Assert.True(ShareRule.TakesNow(Busy(50), [], YieldStage.InVain));
    }

    [Fact]
    public void AWorkerAtOrBelowTheMeanTakesAtOnce()
    {
        Assert.True(ShareRule.TakesNow(Free(2), [Free(2)]));
        Assert.True(ShareRule.TakesNow(Free(4), [Free(5), Free(4), Free(4)])); // mean 4.25
        Assert.True(ShareRule.TakesNow(Free(0), [Free(9), Free(9)]));
    }

    [Fact]
    public void AWorkerAboveTheMeanYields()
    {
        Assert.False(ShareRule.TakesNow(Free(2), [Free(1)])); // one ahead already
        Assert.False(ShareRule.TakesNow(Free(5), [Free(4), Free(4), Free(4)])); // mean 4.25
    }

    [Fact]
    public void ABusyWorkerYieldsToAFreeOneWhateverTheCounts()
    {
        Assert.False(ShareRule.TakesNow(Busy(0), [Free(10)]));
    }

    [Fact]
    public void AFreeWorkerAboveItsShareFirstLeavesItToABusyOneBelow()
    {
        Assert.False(ShareRule.TakesNow(Free(10), [Busy(0), Busy(0)]));
    }

    [Fact]
    public void OnceABusyWorkerHadItsMomentAFreeOneTakesWhatItCouldNotStart()
    {
        Assert.True(ShareRule.TakesNow(Free(10), [Busy(0), Busy(0)], YieldStage.Waited));
    }

    [Fact]
    public void AfterAMomentOnlyTheFreeWorkersCountsCount()
    {
        Assert.False(ShareRule.TakesNow(Free(4), [Free(2), Busy(0)], YieldStage.Waited));
        Assert.True(ShareRule.TakesNow(Free(2), [Free(2), Busy(0)], YieldStage.Waited));
    }

    [Fact]
    public void AfterAYieldInVainTheCountsOfEveryAcceptingWorkerDecide()
    {
        Assert.False(ShareRule.TakesNow(Busy(3), [Busy(1)], YieldStage.InVain));
        Assert.True(ShareRule.TakesNow(Busy(1), [Busy(3)], YieldStage.InVain));
        Assert.False(ShareRule.TakesNow(Free(3), [Busy(1)], YieldStage.InVain));
    }

    [Theory]
    [InlineData(2, 32)]
    [InlineData(3, 64)]
    [InlineData(4, 64)]
    [InlineData(4, 16)]
    public void ABurstTakenByWhicheverWorkerWakesStaysWithinAQuarterOfTheMean(int workers, int connections)
    {
        AssertBurstEven(workers, connections, Free, YieldStage.First);
    }

    [Theory]
    [InlineData(2, 32)]
    [InlineData(4, 64)]
    public void ABurstLeftBehindBusyWorkersIsSharedOutInTurns(int workers, int connections)
    {
        AssertBurstEven(workers, connections, Busy, YieldStage.InVain);
    }

    private static void AssertBurstEven(int workers, int connections, Func<int, SharePeer> state, YieldStage stage)
    {
        var random = new Random(13);
        var counts = new int[workers];
        for (var taken = 0; taken < connections;)
        {
            var me = random.Next(workers); // the accept thread that woke first
            var others = counts.Where((_, i) => i != me).Select(state).ToArray();
            if (!ShareRule.TakesNow(state(counts[me]), others, stage)) continue;
            counts[me]++;
            taken++;
        }
        var mean = (double)connections / workers;
        Assert.All(counts, c => Assert.InRange(c, mean * 0.75, mean * 1.25));
        Assert.InRange(counts.Max() - counts.Min(), 0, 1);
    }
}
