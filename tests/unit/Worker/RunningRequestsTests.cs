using Microsoft.Extensions.Time.Testing;
using Narwhal.Worker;

namespace Narwhal.Tests.Worker;

/// <summary>The --timeout watchdog's choice and the accept gate's count, on a fake clock.</summary>
public class RunningRequestsTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly FakeTimeProvider _time = new();
    private readonly RunningRequests<string> _running;

    public RunningRequestsTests() => _running = new RunningRequests<string>(4, _time);

    [Fact]
    public void NothingRunningIsNothingPastTheLimit()
    {
        Assert.Null(_running.Oldest(Timeout));
        Assert.Equal(0, _running.CountLongerThan(Timeout));
    }

    [Fact]
    public void ARequestWithinTheLimitIsNotPicked()
    {
        _running.Begin(0, "GET /slow");
        _time.Advance(Timeout);
        Assert.Null(_running.Oldest(Timeout));
    }

    [Fact]
    public void PicksTheOldestOfThosePastTheLimitWithItsAge()
    {
        _running.Begin(1, "oldest");
        _time.Advance(TimeSpan.FromSeconds(5));
        _running.Begin(0, "younger");
        _time.Advance(TimeSpan.FromSeconds(1));
        _running.Begin(3, "youngest past the limit");
        _time.Advance(TimeSpan.FromSeconds(1));
        _running.Begin(2, "fresh");
        _time.Advance(Timeout);
        // Neither the first nor the last slot past the limit: the one that began first.
        Assert.Equal(("oldest", TimeSpan.FromSeconds(37)), _running.Oldest(Timeout));
        Assert.Equal(3, _running.CountLongerThan(Timeout));
    }

    [Fact]
    public void AnEndedRequestIsForgotten()
    {
        _running.Begin(1, "done");
        _time.Advance(Timeout * 2);
        _running.End(1);
        Assert.Null(_running.Oldest(Timeout));
        Assert.Equal(0, _running.CountLongerThan(TimeSpan.Zero));
    }

    [Fact]
    public void ASlotReusedStartsItsClockAgain()
    {
        _running.Begin(1, "first");
        _time.Advance(Timeout * 2);
        _running.End(1);
        _running.Begin(1, "next");
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Null(_running.Oldest(Timeout));
        Assert.Equal(1, _running.CountLongerThan(TimeSpan.FromMilliseconds(50)));
    }

    [Fact]
    public void TheAcceptGateCountsOnlyRequestsPastItsThreshold()
    {
        var slow = TimeSpan.FromMilliseconds(50);
        _running.Begin(0, "a");
        _running.Begin(1, "b");
        _time.Advance(TimeSpan.FromMilliseconds(60));
        _running.Begin(2, "c");
        Assert.Equal(2, _running.CountLongerThan(slow));
    }
}
