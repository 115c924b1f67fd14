namespace OrleansStream.Cluster.Tests;

/// <summary>The test kit's wait: an attempt bounded for a wait across a silo's death is given up and made again.</summary>
public sealed class EventuallyTests
{
    [Fact]
    public async Task An_attempt_that_never_ends_or_times_out_counts_as_not_yet_when_attempts_are_bounded()
    {
        var never = new TaskCompletionSource<bool>();
        var attempts = 0;
        await Eventually.WaitUntilAsync(() => ++attempts switch
        {
            1 => never.Task,
            2 => throw new TimeoutException("Response did not arrive on time"),
            _ => Task.FromResult(true),
        }, "the third attempt holds", attemptTimeout: TimeSpan.FromMilliseconds(50));

        Assert.Equal(3, attempts);
    }

    [Fact]
    public async Task Without_a_bound_an_attempt_is_awaited_and_its_timeout_fails_the_wait()
    {
        var late = new TaskCompletionSource<bool>();
        var waiting = Eventually.WaitUntilAsync(() => late.Task, "the only attempt holds");
        late.SetResult(true);
        await waiting;

        await Assert.ThrowsAsync<TimeoutException>(() =>
            Eventually.WaitUntilAsync(() => Task.FromException<bool>(new TimeoutException("Response did not arrive on time")), "never", TimeSpan.FromSeconds(1)));
    }
}
