using Microsoft.Extensions.Time.Testing;
using Narwhal.Supervision;

namespace Narwhal.Tests.Supervision;

/// <summary>--graceful-timeout deadlines (the master's SIGKILL after TERM, the worker's drain), on a fake clock.</summary>
public class DeadlineTests
{
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public void NotPassedBeforeTheSpanEnds()
    {
        var deadline = Deadline.After(TimeSpan.FromSeconds(30), _time);
        _time.Advance(TimeSpan.FromSeconds(30) - TimeSpan.FromTicks(1));
        Assert.False(deadline.HasPassed(_time));
    }

    [Fact]
    public void PassedOnceTheSpanEnds()
    {
        var deadline = Deadline.After(TimeSpan.FromSeconds(30), _time);
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.True(deadline.HasPassed(_time));
    }

    [Fact]
    public void AZeroGracefulTimeoutHasPassedAtOnce() =>
        Assert.True(Deadline.After(TimeSpan.Zero, _time).HasPassed(_time));

    [Fact]
    public void CountsInTheClocksOwnTimestampUnits()
    {
        // TimeProvider.System counts in Stopwatch ticks (1e9 a second on Linux), the fake in
        // TimeSpan ticks (1e7): a deadline must hold for either.
        var system = Deadline.After(TimeSpan.FromSeconds(1), TimeProvider.System);
        Assert.False(system.HasPassed(TimeProvider.System));
        Assert.InRange(system.Timestamp - TimeProvider.System.GetTimestamp(), 0, TimeProvider.System.TimestampFrequency);
        Assert.Equal(_time.GetTimestamp() + _time.TimestampFrequency, Deadline.After(TimeSpan.FromSeconds(1), _time).Timestamp);
    }
}
