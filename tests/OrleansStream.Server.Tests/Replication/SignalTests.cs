using Microsoft.Extensions.Time.Testing;
using OrleansStream.Server.Replication;

namespace OrleansStream.Server.Tests.Replication;

/// <summary>The long-poll wake-up of a replica grain: a fire wakes every parked waiter, a timeout wakes one alone.</summary>
public sealed class SignalTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly Signal _signal = new();

    [Fact]
    public async Task Fire_WakesEveryWaiterAndTheNextWaitParksAgain()
    {
        var first = _signal.WaitAsync(TimeSpan.FromSeconds(30), _time);
        var second = _signal.WaitAsync(TimeSpan.FromSeconds(30), _time);
        var next = _signal.Next;
        Assert.False(first.IsCompleted);
        Assert.Equal(2, _signal.Waiting);

        _signal.Fire();

        await first.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        await second.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        Assert.True(next.IsCompleted);
        Assert.Equal(0, _signal.Waiting);
        var third = _signal.WaitAsync(TimeSpan.FromSeconds(30), _time);
        Assert.False(third.IsCompleted);
        Assert.False(_signal.Next.IsCompleted);
    }

    [Fact]
    public async Task Timeout_WakesThatWaiterAloneAndItLeavesTheSignal()
    {
        var shortWait = _signal.WaitAsync(TimeSpan.FromMilliseconds(500), _time);
        var longWait = _signal.WaitAsync(TimeSpan.FromSeconds(30), _time);

        _time.Advance(TimeSpan.FromMilliseconds(500));

        await shortWait.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        Assert.False(longWait.IsCompleted);
        Assert.Equal(1, _signal.Waiting); // an idle partition's timed-out long-polls do not pile up until the next append
        _signal.Fire();
        await longWait.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task Fire_WakesEveryWaiterWhileTheWokenContinueOnOtherThreads()
    {
        // Outside a grain (these tests, a partition driven by a test) the woken waiters continue on the thread pool at
        // once, while Fire is still waking the rest; they must not touch the list Fire walks.
        var waits = new Task[5_000];
        for (var i = 0; i < waits.Length; i++) waits[i] = _signal.WaitAsync(TimeSpan.FromSeconds(30), _time);

        _signal.Fire();

        await Task.WhenAll(waits).WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        Assert.Equal(0, _signal.Waiting);
    }

    [Fact]
    public void Fire_WithNobodyWaitingOrObserving_AllocatesNothing()
    {
        // The leader fires on every append; a task armed per fire that nobody awaits was an allocation per produce.
        _signal.Fire();
        Assert.Equal(0, ThreadAllocations.Least(_ =>
        {
            for (var i = 0; i < 1_000; i++) _signal.Fire();
        }));

        var observed = _signal.Next;
        Assert.Same(observed, _signal.Next);
        _signal.Fire();
        Assert.True(observed.IsCompleted);
        Assert.False(_signal.Next.IsCompleted);
    }

    [Fact]
    public void WaitAsync_WithNoTimeLeft_CompletesAtOnce()
    {
        Assert.True(_signal.WaitAsync(TimeSpan.Zero, _time).IsCompletedSuccessfully);
        Assert.Equal(0, _signal.Waiting);
    }
}
