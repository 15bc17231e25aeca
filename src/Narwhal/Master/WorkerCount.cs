namespace Narwhal.Master;

/// <summary>
/// What it takes to have the desired number of workers serving, decided from their flags
/// alone (the arbiter then spawns and signals): new workers for the missing ones, the oldest
/// of any excess stopped at once, and the rolling replacement: a retiring worker (HUP,
/// max-requests, --reload) is stopped only once a ready worker can take its place.
/// </summary>
internal static class WorkerCount
{
    internal sealed record Plan(int Spawn, IReadOnlyList<ChildWorker> StopNow, IReadOnlyList<ChildWorker> Replaced);

    public static Plan For(IReadOnlyList<ChildWorker> workers, int desired)
    {
        var active = workers.Where(w => !w.Retiring).ToList();
        var spawn = Math.Max(0, desired - active.Count);
        var excess = active.OrderBy(w => w.Age).Take(Math.Max(0, active.Count - desired)).ToList();
        // Ready ones count as capacity even among the excess: they serve until they get TERM.
        var ready = active.Count(w => w.Ready);
        var waiting = workers.Where(w => w.Retiring && !w.TermSent && !w.TimedOut).OrderBy(w => w.Age).ToList();
        var replaced = waiting.Take(Math.Max(0, ready + waiting.Count - desired)).ToList();
        return new Plan(spawn, excess, replaced);
    }
}
