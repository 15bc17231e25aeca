using System.Diagnostics;
using Microsoft.Extensions.Time.Testing;
using Narwhal.Master;
using Narwhal.Posix;
using Narwhal.Supervision;

namespace Narwhal.Tests.Master;

/// <summary>
/// --max-worker-rss: the decision over readings, and the checks themselves over worker records
/// that carry this test process (its real RSS, tens of MiB); nothing is spawned or signalled.
/// </summary>
public sealed class RssLimitTests : IDisposable
{
    private readonly FakeTimeProvider _time = new();
    private readonly Heartbeat _heartbeat =
        Heartbeat.Create(null, 0b000_010_010, Unix.EffectiveUserId, Unix.EffectiveGroupId, new FakeTimeProvider());
    private readonly Process _self = Process.GetCurrentProcess();

    public void Dispose()
    {
        _heartbeat.Dispose();
        _self.Dispose();
    }

    private ChildWorker Worker(bool ready = true, bool retiring = false) =>
        new(_self, _heartbeat, 1) { Ready = ready, Retiring = retiring };

    [Fact]
    public void TwoReadingsInARowOverTheLimitReplace()
    {
        var (over, replace) = RssLimit.Check(0, rss: 101, limit: 100);
        Assert.Equal((1, false), (over, replace));
        Assert.Equal((2, true), RssLimit.Check(over, rss: 150, limit: 100));
    }

    [Fact]
    public void AReadingWithinTheLimitStartsTheCountAgain()
    {
        var (over, _) = RssLimit.Check(0, rss: 200, limit: 100);
        (over, _) = RssLimit.Check(over, rss: 100, limit: 100); // at the limit is within it
        Assert.Equal(0, over);
        Assert.Equal((1, false), RssLimit.Check(over, rss: 200, limit: 100));
    }

    [Fact]
    public void AWorkerOverTheLimitIsReplacedOnTheSecondCheckASecondLater()
    {
        var limit = new RssLimit(_time);
        var w = Worker();
        Assert.Empty(limit.Exceeded([w], limitMiB: 1));
        Assert.Empty(limit.Exceeded([w], limitMiB: 1)); // the same second: not checked again
        Assert.Equal(1, w.RssChecksOver);
        _time.Advance(RssLimit.Every);
        var (worker, rss) = Assert.Single(limit.Exceeded([w], limitMiB: 1));
        Assert.Same(w, worker);
        Assert.True(rss > 1024 * 1024);
    }

    [Fact]
    public void BootingAndRetiringWorkersAreNotChecked()
    {
        var limit = new RssLimit(_time);
        var booting = Worker(ready: false);
        var retiring = Worker(retiring: true);
        for (var i = 0; i < 3; i++, _time.Advance(RssLimit.Every))
            Assert.Empty(limit.Exceeded([booting, retiring], limitMiB: 1));
        Assert.Equal(0, booting.RssChecksOver + retiring.RssChecksOver);
    }

    [Theory]
    [InlineData(0)] // off
    [InlineData(1 << 20)] // 1 TiB: never reached
    public void NothingIsReplacedWhenOffOrWithinTheLimit(int limitMiB)
    {
        var limit = new RssLimit(_time);
        var w = Worker();
        for (var i = 0; i < 3; i++, _time.Advance(RssLimit.Every))
            Assert.Empty(limit.Exceeded([w], limitMiB));
        Assert.Equal(0, w.RssChecksOver);
    }
}
