namespace OrleansStream.Server.Cluster;

/// <summary>
/// The wait between a broker's attempts to reach the controller (its registration, a membership report, the wake-up of
/// its replicas): doubling from <see cref="Initial"/> up to <see cref="Max"/>, short enough that a broker is ready
/// again, and a dead broker's leaderships moved, within seconds of the controller serving again.
/// </summary>
internal sealed class RegistrationBackoff
{
    public static readonly TimeSpan Initial = TimeSpan.FromMilliseconds(250);
    public static readonly TimeSpan Max = TimeSpan.FromSeconds(4);

    /// <summary>The wait before the next attempt (the first is <see cref="Initial"/>).</summary>
    public TimeSpan Next { get; private set; } = Initial;

    /// <summary>Waits <see cref="Next"/> on <paramref name="time"/> (returns early when <paramref name="cancellationToken"/> ends), then doubles it.</summary>
    public async Task WaitAsync(TimeProvider time, CancellationToken cancellationToken)
    {
        var wait = Next;
        Next = TimeSpan.FromTicks(Math.Min(wait.Ticks * 2, Max.Ticks));
        await Task.Delay(wait, time, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }
}
