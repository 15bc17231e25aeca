using System.Diagnostics;
using Microsoft.Extensions.Time.Testing;
using Narwhal.Master;
using Narwhal.Posix;
using Narwhal.Supervision;

namespace Narwhal.Tests.Master;

/// <summary>
/// The arbiter's decision of whom to spawn and stop, over worker records. Each record carries
/// this test process and a real heartbeat file; nothing is spawned or signalled.
/// </summary>
public sealed class WorkerCountTests : IDisposable
{
    private readonly Heartbeat _heartbeat =
        Heartbeat.Create(null, 0b000_010_010, Unix.EffectiveUserId, Unix.EffectiveGroupId, new FakeTimeProvider());
    private readonly Process _self = Process.GetCurrentProcess();

    public void Dispose()
    {
        _heartbeat.Dispose();
        _self.Dispose();
    }

    private ChildWorker Worker(int age, bool ready = true, bool retiring = false, bool termSent = false, bool timedOut = false) =>
        new(_self, _heartbeat, age) { Ready = ready, Retiring = retiring, TermSent = termSent, TimedOut = timedOut };

    private static int[] Ages(IEnumerable<ChildWorker> workers) => workers.Select(w => w.Age).ToArray();

    [Fact]
    public void SpawnsTheMissingOnes()
    {
        var plan = WorkerCount.For([Worker(1)], desired: 3);
        Assert.Equal(2, plan.Spawn);
        Assert.Empty(plan.StopNow);
        Assert.Empty(plan.Replaced);
    }

    [Fact]
    public void FewerWantedStopsTheOldestAtOnce()
    {
        var plan = WorkerCount.For([Worker(3), Worker(1), Worker(2)], desired: 1);
        Assert.Equal(0, plan.Spawn);
        Assert.Equal([1, 2], Ages(plan.StopNow));
    }

    [Fact]
    public void RetiringWorkersKeepServingUntilAReplacementIsReady()
    {
        // Just after HUP with -w 2: both old ones retire, their replacements are still booting.
        var old = new[] { Worker(1, retiring: true), Worker(2, retiring: true) };
        Assert.Equal(2, WorkerCount.For(old, desired: 2).Spawn);
        var plan = WorkerCount.For([.. old, Worker(3, ready: false), Worker(4, ready: false)], desired: 2);
        Assert.Equal(0, plan.Spawn);
        Assert.Empty(plan.Replaced);
    }

    [Fact]
    public void EachReadyReplacementLetsTheOldestRetiringOneGo()
    {
        var workers = new[] { Worker(2, retiring: true), Worker(1, retiring: true), Worker(3), Worker(4, ready: false) };
        Assert.Equal([1], Ages(WorkerCount.For(workers, desired: 2).Replaced));
        workers[3].Ready = true;
        Assert.Equal([1, 2], Ages(WorkerCount.For(workers, desired: 2).Replaced));
    }

    [Fact]
    public void WorkersAlreadyToldToStopAreNotCountedAgain()
    {
        var workers = new[] { Worker(1, retiring: true, termSent: true), Worker(2, retiring: true, timedOut: true, termSent: true), Worker(3) };
        var plan = WorkerCount.For(workers, desired: 1);
        Assert.Equal(0, plan.Spawn);
        Assert.Empty(plan.Replaced);
    }

    [Fact]
    public void NoneWantedStopsEveryActiveWorker()
    {
        var plan = WorkerCount.For([Worker(1), Worker(2, ready: false)], desired: 0);
        Assert.Equal([1, 2], Ages(plan.StopNow));
    }
}
