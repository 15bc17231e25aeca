using Microsoft.Extensions.Time.Testing;
using Narwhal.Posix;
using Narwhal.Supervision;

namespace Narwhal.Tests.Supervision;

/// <summary>
/// The heartbeat file as master and worker use it: a real unlinked file in the temp folder,
/// written by <see cref="WorkerStatus"/> and read by the master, on a fake clock.
/// </summary>
public sealed class HeartbeatTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly FakeTimeProvider _time = new();
    private readonly Heartbeat _heartbeat;
    private readonly WorkerStatus _status;

    public HeartbeatTests()
    {
        _heartbeat = Heartbeat.Create(null, 0b000_010_010, Unix.EffectiveUserId, Unix.EffectiveGroupId, _time);
        _status = new WorkerStatus(_heartbeat, _time);
    }

    public void Dispose() => _heartbeat.Dispose();

    [Fact]
    public void ANewFileSaysBootingAndIsFresh()
    {
        var reading = _heartbeat.Read();
        Assert.Equal(WorkerState.Booting, reading.State);
        Assert.Equal((0, 0L), (reading.ReplaceRequests, reading.Handled));
        Assert.False(reading.IsStale(Timeout, _time));
    }

    [Fact]
    public void NotRewrittenForLongerThanTheTimeoutIsStale()
    {
        _status.Set(WorkerState.Serving, 0);
        _time.Advance(Timeout + TimeSpan.FromMilliseconds(1));
        Assert.True(_heartbeat.Read().IsStale(Timeout, _time));
    }

    [Fact]
    public void RewrittenJustWithinTheTimeoutIsNotStale()
    {
        _status.Set(WorkerState.Serving, 0);
        _time.Advance(Timeout);
        Assert.False(_heartbeat.Read().IsStale(Timeout, _time));
    }

    [Fact]
    public void EachBeatRestartsTheCount()
    {
        _status.Set(WorkerState.Serving, 0);
        for (var i = 0; i < 5; i++)
        {
            _time.Advance(Timeout - TimeSpan.FromSeconds(1));
            _status.Beat(i);
        }
        _time.Advance(Timeout - TimeSpan.FromSeconds(1));
        Assert.False(_heartbeat.Read().IsStale(Timeout, _time)); // 2.5 min after the first beat
        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.True(_heartbeat.Read().IsStale(Timeout, _time));
    }

    [Fact]
    public void NoTimeoutMeansNeverStale()
    {
        _time.Advance(TimeSpan.FromDays(1));
        Assert.False(_heartbeat.Read().IsStale(TimeSpan.Zero, _time));
    }

    [Fact]
    public void AFileThatReadsShortCountsAsSilent() =>
        Assert.True(default(HeartbeatReading).IsStale(Timeout, _time));

    [Fact]
    public void StateHandledCountAndReplacementRequestsReachTheMaster()
    {
        _status.Set(WorkerState.Serving, 7);
        _status.RequestReplacement();
        _status.RequestReplacement();
        _status.Beat(9);
        var reading = _heartbeat.Read();
        Assert.Equal(WorkerState.Serving, reading.State);
        Assert.Equal(2, reading.ReplaceRequests);
        Assert.Equal(9, reading.Handled);
        Assert.Equal(_time.GetTimestamp(), reading.Beat);
    }

    [Fact]
    public void ATimedOutWorkerSaysSo()
    {
        _status.Set(WorkerState.TimedOut, 3);
        Assert.Equal(WorkerState.TimedOut, _heartbeat.Read().State);
    }

    [Fact]
    public void TheFileIsUnlinkedAtOnce()
    {
        var folder = Directory.CreateTempSubdirectory("narwhal-heartbeat-");
        try
        {
            using var heartbeat = Heartbeat.Create(folder.FullName, 0b000_010_010, Unix.EffectiveUserId, Unix.EffectiveGroupId, _time);
            Assert.Empty(folder.GetFiles());
            Assert.Equal(WorkerState.Booting, heartbeat.Read().State);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }
}
