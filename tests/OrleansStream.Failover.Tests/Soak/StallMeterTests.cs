namespace OrleansStream.Failover.Tests.Soak;

public sealed class StallMeterTests
{
    [Fact]
    public void A_stall_measured_after_the_fact_names_its_own_times()
    {
        // A console line sent 11:43:16.444 and appended 11:43:31.245, read back when the soak ended.
        var meter = new StallMeter();
        var appended = new DateTimeOffset(2026, 12, 5, 11, 43, 31, 245, TimeSpan.Zero);

        meter.Record("produce: console producer (send to append)", TimeSpan.FromMilliseconds(14_801), appended);

        Assert.Equal("produce: console producer (send to append): 14.8 s from 11:43:16.444 to 11:43:31.245", Assert.Single(meter.LongStalls));
        Assert.Equal(TimeSpan.FromMilliseconds(14_801), meter.Longest()["produce: console producer (send to append)"]);
    }

    [Fact]
    public void A_short_stall_counts_but_is_not_named()
    {
        var meter = new StallMeter();

        meter.Record("group: Commit", TimeSpan.FromSeconds(1), DateTimeOffset.UtcNow);

        Assert.Empty(meter.LongStalls);
        Assert.Equal(1, meter.Count("group: Commit"));
    }
}
