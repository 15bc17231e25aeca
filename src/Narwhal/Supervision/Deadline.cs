namespace Narwhal.Supervision;

/// <summary>
/// A moment on a <see cref="TimeProvider"/>'s monotonic clock (its timestamps), such as the
/// end of --graceful-timeout: master and worker compute and test deadlines the same way, and
/// a test moves a fake clock past one instead of sleeping.
/// </summary>
internal readonly record struct Deadline(long Timestamp)
{
    public static Deadline After(TimeSpan span, TimeProvider time) =>
        new(time.GetTimestamp() + (long)(span.TotalSeconds * time.TimestampFrequency));

    /// <summary>Reached or past (a zero span is passed at once).</summary>
    public bool HasPassed(TimeProvider time) => time.GetTimestamp() >= Timestamp;
}
