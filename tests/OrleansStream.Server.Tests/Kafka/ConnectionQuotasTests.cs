using System.Net;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using OrleansStream.Server.Kafka.Quotas;

namespace OrleansStream.Server.Tests.Kafka;

/// <summary>
/// Kafka's broker-wide <c>max.connection.creation.rate</c> (KIP-612) on a fake clock: connections within the rate are
/// let in at once, one over it waits the throttle Kafka's acceptor waits, and the next is reckoned only after it.
/// </summary>
public class ConnectionQuotasTests
{
    private readonly TimerCountingTimeProvider _time = new(DateTimeOffset.UnixEpoch.AddDays(1));

    private ConnectionQuotas Quotas(int rate = int.MaxValue, int perIp = int.MaxValue, int max = int.MaxValue) =>
        new(Options.Create(new BrokerOptions { MaxConnectionCreationRate = rate, MaxConnectionsPerIp = perIp, MaxConnections = max }), _time);

    [Fact]
    public async Task Connections_over_the_rate_wait_their_throttle_one_after_another()
    {
        var quotas = Quotas(rate: 1);
        var ct = TestContext.Current.CancellationToken;

        // Kafka's rate spreads a first burst over ten one-second windows: ten connections at 1/s are within it.
        for (var i = 0; i < 10; i++)
        {
            var slot = quotas.WaitForCreationSlotAsync(ct);
            Assert.True(slot.IsCompletedSuccessfully);
            Assert.Equal(0, await slot);
        }

        // The eleventh takes the rate to 1.1/s: held (1.1 - 1) / 1 * 10 s. The twelfth waits behind it.
        var eleventh = quotas.WaitForCreationSlotAsync(ct).AsTask();
        var twelfth = quotas.WaitForCreationSlotAsync(ct).AsTask();
        _time.Advance(TimeSpan.FromMilliseconds(999));
        Assert.False(eleventh.IsCompleted);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(1000, await eleventh);
        Assert.False(twelfth.IsCompleted);

        // Reckoned only when the twelfth has the acceptor (its continuation runs on the pool, late under load): wait for
        // its throttle timer before the clock moves. 12 in the window at 1 s: 2 s more, so it was held 3 s in all.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (Volatile.Read(ref _time.TimersCreated) < 2)
        {
            Assert.True(DateTime.UtcNow < deadline, "the twelfth connection never took the acceptor");
            await Task.Delay(1, ct);
        }
        _time.Advance(TimeSpan.FromMilliseconds(1999));
        Assert.False(twelfth.IsCompleted);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(3000, await twelfth);
    }

    [Fact]
    public async Task Without_the_rate_set_nothing_waits_or_is_measured()
    {
        var quotas = Quotas();
        for (var i = 0; i < 1000; i++)
            Assert.Equal(0, await quotas.WaitForCreationSlotAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task A_connection_beyond_max_connections_waits_for_one_to_close_and_one_that_closes_while_waiting_takes_no_slot()
    {
        var quotas = Quotas(max: 2);
        var ct = TestContext.Current.CancellationToken;
        Assert.True(await quotas.WaitForConnectionSlotAsync(ct));
        Assert.True(await quotas.WaitForConnectionSlotAsync(ct));

        using var gone = new CancellationTokenSource();
        var closedWhileWaiting = quotas.WaitForConnectionSlotAsync(gone.Token).AsTask();
        var third = quotas.WaitForConnectionSlotAsync(ct).AsTask();
        Assert.False(closedWhileWaiting.IsCompleted);
        Assert.False(third.IsCompleted);
        await gone.CancelAsync();
        Assert.False(await closedWhileWaiting);
        Assert.False(third.IsCompleted);

        quotas.ReleaseConnectionSlot();
        Assert.True(await third);
        quotas.ReleaseConnectionSlot();
        Assert.True(await quotas.WaitForConnectionSlotAsync(ct));
    }

    [Fact]
    public void Connections_per_address_stop_at_max_connections_per_ip_and_a_closed_one_frees_its_slot()
    {
        var quotas = Quotas(perIp: 2);
        var a = IPAddress.Parse("10.0.0.1");

        Assert.True(quotas.TryAddConnection(a));
        Assert.True(quotas.TryAddConnection(a));
        Assert.False(quotas.TryAddConnection(a));
        Assert.True(quotas.TryAddConnection(IPAddress.Parse("10.0.0.2")));
        quotas.RemoveConnection(a);
        Assert.True(quotas.TryAddConnection(a));
    }
}

/// <summary>A fake clock that counts the timers made on it, so a test can tell when a waiter has started its wait.</summary>
internal sealed class TimerCountingTimeProvider(DateTimeOffset start) : FakeTimeProvider(start)
{
    public int TimersCreated;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        Interlocked.Increment(ref TimersCreated);
        return base.CreateTimer(callback, state, dueTime, period);
    }
}
