using System.Net;
using Microsoft.Extensions.Time.Testing;
using OrleansStream.Server.Kafka.Quotas;

namespace OrleansStream.Server.Tests.Kafka;

/// <summary>
/// Kafka's client quota arithmetic (<c>Rate</c> over eleven one-second samples, <c>QuotaUtils.throttleTime</c>) and its
/// default callback's eight entities, checked with given times.
/// </summary>
public sealed class ClientQuotaManagerTests
{
    [Fact]
    public void A_burst_is_spread_over_ten_windows_and_the_throttle_brings_the_rate_back_to_the_quota()
    {
        var sensor = new QuotaSensor();

        // 10,000 bytes at once against 1,000 B/s: the rate is measured over at least ten windows, so not over.
        Assert.Equal(0, sensor.RecordAndGetThrottleTimeMs(10_000, 1000, 0));
        // One byte more: 10,001 B over 10 s, 0.1 B/s over the quota: (1000.1 - 1000) / 1000 * 10,000 ms.
        Assert.Equal(1, sensor.RecordAndGetThrottleTimeMs(1, 1000, 0));
        // 10,000 more half a second later: 20,001 B over 10.5 s = 1904.86 B/s, so 904.86 / 1000 * 10,500 ms.
        Assert.Equal(9501, sensor.RecordAndGetThrottleTimeMs(10_000, 1000, 500));
    }

    [Fact]
    public void Samples_without_events_for_eleven_windows_expire_and_an_unrecorded_value_is_taken_back()
    {
        var sensor = new QuotaSensor();
        sensor.RecordAndGetThrottleTimeMs(50_000, 1000, 0);
        Assert.Equal(5000, sensor.Rate(0), 0);

        // Taken back in the same sample; the window is 100 ms and the ten padding windows.
        sensor.Unrecord(30_000, 100);
        Assert.Equal(20_000 / 10.1, sensor.Rate(100), 6);

        Assert.Equal(0, sensor.Rate(11_100), 0);
        Assert.Equal(0, sensor.RecordAndGetThrottleTimeMs(1000, 1000, 11_100));
    }

    [Fact]
    public void Samples_roll_over_one_window_each_and_the_oldest_sets_the_window()
    {
        var sensor = new QuotaSensor();
        for (var second = 0; second < 20; second++) sensor.RecordAndGetThrottleTimeMs(1000, 2000, second * 1000L);

        // Twelve samples are kept (eleven and the overlapping one); at 19.5 s the one begun at 8 s has had no event for
        // eleven windows and starts again, so eleven samples of 1,000 B remain, the oldest begun at 9 s: 11,000 B over 10.5 s.
        Assert.Equal(11_000 / 10.5, sensor.Rate(19_500), 6);
    }

    /// <summary>Kafka's TokenBucket for controller_mutation_rate: a burst of ten seconds' worth, refilled at the quota.</summary>
    [Fact]
    public void The_mutation_bucket_refuses_when_strict_only_once_exhausted_and_throttles_until_it_refills()
    {
        var bucket = new TokenBucket();

        // 2 partitions a second: a burst of 20. 15 then 15: the second takes it to -10, strict takes it all the same.
        Assert.True(bucket.TryRecord(15, 2, strict: true, 0, out var first));
        Assert.True(bucket.TryRecord(15, 2, strict: true, 0, out var second));
        Assert.Equal((0, 0), (first, second));
        Assert.Equal(-10, bucket.Tokens(2, 0));
        // Now exhausted: strict refuses, for the 5 s the bucket needs to come back to zero.
        Assert.False(bucket.TryRecord(1, 2, strict: true, 0, out var refused));
        Assert.Equal(5000, refused);
        // Permissive takes it and says how long to wait: -11 tokens one second later are -9.
        Assert.True(bucket.TryRecord(1, 2, strict: false, 1000, out var permissive));
        Assert.Equal(4500, permissive);
        // Refilled at the quota, up to the burst.
        Assert.Equal(20, bucket.Tokens(2, 60_000));
    }

    [Theory]
    [InlineData("alice", "app", "alice/app", "alice", "app")]
    [InlineData("alice", "other", "alice/<default>", "alice", "other")]
    [InlineData("bob", "app", "<default>/app", "bob", "app")]
    [InlineData("bob", "other", "<default>/<default>", "bob", "other")]
    [InlineData("carol", "tool", "<default>/<default>", "carol", "tool")]
    public void A_clients_quota_is_the_first_of_Kafkas_entities_that_has_one(string user, string clientId, string expected, string sharedUser, string sharedClient)
    {
        var manager = new ClientQuotaManager(TimeProvider.System);
        StoredClientQuota Quota(bool hasUser, string? u, bool hasClient, string? c, string name) =>
            new(new ClientQuotaEntity(hasUser, u, hasClient, c), ClientQuotaManager.ProducerByteRate, Values[name]);
        manager.Apply(new ClientQuotaSnapshot(1, [
            Quota(true, "alice", true, "app", "alice/app"),
            Quota(true, "alice", true, null, "alice/<default>"),
            Quota(true, null, true, "app", "<default>/app"),
            Quota(true, null, true, null, "<default>/<default>"),
            Quota(false, null, true, "tool", "clients/tool"),
            new(new ClientQuotaEntity(true, "carol", false, null), ClientQuotaManager.ConsumerByteRate, 7)]));

        // carol's own quota is a fetch quota: for produce the default user's pairs come before her client id's.
        var quota = manager.QuotaOf(ClientQuotaType.Produce, user, clientId);

        Assert.Equal((Values[expected], sharedUser, sharedClient), quota);
        Assert.Equal((7, "carol", ""), manager.QuotaOf(ClientQuotaType.Fetch, "carol", "anything"));
        Assert.Null(manager.QuotaOf(ClientQuotaType.Fetch, "alice", "app"));
    }

    [Fact]
    public void A_users_quota_is_shared_by_its_clients_and_user_quotas_come_before_client_ones()
    {
        var manager = new ClientQuotaManager(TimeProvider.System);
        manager.Apply(new ClientQuotaSnapshot(1, [
            new(new ClientQuotaEntity(true, "alice", false, null), ClientQuotaManager.ProducerByteRate, 100),
            new(new ClientQuotaEntity(true, null, false, null), ClientQuotaManager.ProducerByteRate, 50),
            new(new ClientQuotaEntity(false, null, true, null), ClientQuotaManager.ProducerByteRate, 10)]));

        Assert.Equal((100, "alice", ""), manager.QuotaOf(ClientQuotaType.Produce, "alice", "any"));
        Assert.Equal((50, "bob", ""), manager.QuotaOf(ClientQuotaType.Produce, "bob", "any"));
        Assert.False(manager.IsEnabled(ClientQuotaType.Fetch));

        // An older snapshot arriving late changes nothing; a newer one replaces everything.
        manager.Apply(new ClientQuotaSnapshot(0, []));
        Assert.True(manager.IsEnabled(ClientQuotaType.Produce));
        manager.Apply(new ClientQuotaSnapshot(2, [
            new(new ClientQuotaEntity(false, null, true, "tool"), ClientQuotaManager.ProducerByteRate, 5),
            new(new ClientQuotaEntity(false, null, true, null), ClientQuotaManager.ProducerByteRate, 6)]));
        Assert.Equal((5, "", "tool"), manager.QuotaOf(ClientQuotaType.Produce, "alice", "tool"));
        Assert.Equal((6, "", "other"), manager.QuotaOf(ClientQuotaType.Produce, "alice", "other"));
        manager.Apply(new ClientQuotaSnapshot(3, []));
        Assert.False(manager.IsEnabled(ClientQuotaType.Produce));
        Assert.Null(manager.QuotaOf(ClientQuotaType.Produce, "alice", "any"));
    }

    [Fact]
    public void A_connection_over_its_IPs_rate_is_throttled_and_not_counted_and_an_IP_without_its_own_quota_takes_the_default()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddDays(1));
        var manager = new ClientQuotaManager(time);
        var one = IPAddress.Parse("10.0.0.1");
        Assert.Equal(0, manager.RecordConnectionAndGetThrottleTimeMs(one)); // no IP quota: nothing is measured

        manager.Apply(new ClientQuotaSnapshot(1, [
            new StoredClientQuota(ClientQuotaEntity.ForIp("10.0.0.1"), ClientQuotaManager.ConnectionCreationRate, 1),
            new StoredClientQuota(ClientQuotaEntity.ForIp(null), ClientQuotaManager.ConnectionCreationRate, 2),
            new StoredClientQuota(new ClientQuotaEntity(true, null, false, null), ClientQuotaManager.ProducerByteRate, 1000),
        ]));

        // Ten connections in the first second are 1/s over the ten windows the rate is measured over: at the quota.
        for (var i = 0; i < 10; i++) Assert.Equal(0, manager.RecordConnectionAndGetThrottleTimeMs(one));
        // The eleventh is 1.1/s: held (1.1 - 1) / 1 * 10 s; it is taken back, so the next is held as long, however many try.
        Assert.Equal(1000, manager.RecordConnectionAndGetThrottleTimeMs(one));
        Assert.Equal(1000, manager.RecordConnectionAndGetThrottleTimeMs(IPAddress.Parse("::ffff:10.0.0.1"))); // the same address
        // Another address has the default quota and its own measure.
        var two = IPAddress.Parse("10.0.0.2");
        for (var i = 0; i < 20; i++) Assert.Equal(0, manager.RecordConnectionAndGetThrottleTimeMs(two));
        Assert.True(manager.RecordConnectionAndGetThrottleTimeMs(two) > 0);

        // Still over a second later (the rate is measured over ten windows at least); once the first second's sample has
        // expired, eleven windows on, the next connection is taken.
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(manager.RecordConnectionAndGetThrottleTimeMs(one) > 0);
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(0, manager.RecordConnectionAndGetThrottleTimeMs(one));
    }

    private static readonly Dictionary<string, double> Values = new()
    {
        ["alice/app"] = 1, ["alice/<default>"] = 2, ["<default>/app"] = 3, ["<default>/<default>"] = 4, ["clients/tool"] = 5,
    };
}
