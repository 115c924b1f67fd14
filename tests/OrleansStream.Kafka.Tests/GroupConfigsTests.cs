using Confluent.Kafka;
using Confluent.Kafka.Admin;
using OrleansStream.Protocol;
using M = OrleansStream.Protocol.Messages;

namespace OrleansStream.Kafka.Tests;

/// <summary>
/// Kafka's GROUP config resource (KIP-848) through librdkafka's admin client, which sends Confluent's
/// <c>ResourceType.Group</c> as Kafka's config resource 32: the coordinator tells the group's members the interval set.
/// </summary>
[Collection(KafkaClusterCollection.Name)]
public sealed class GroupConfigsTests(KafkaCluster cluster)
{
    private const string Heartbeat = "consumer.heartbeat.interval.ms";

    private IAdminClient Admin() => new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).Build();

    private static Dictionary<ConfigResource, List<ConfigEntry>> Set(ConfigResource resource, string name, string value) =>
        new() { [resource] = [new ConfigEntry { Name = name, Value = value, IncrementalOperation = AlterConfigOpType.Set }] };

    [Fact]
    public async Task A_group_config_set_with_librdkafka_is_described_as_GROUP_CONFIG_and_told_to_the_groups_members()
    {
        var topic = await cluster.CreateTopicAsync("group-cfg", partitions: 1);
        var group = "g-" + Guid.NewGuid().ToString("N");
        var resource = new ConfigResource { Type = ResourceType.Group, Name = group };
        using var admin = Admin();

        await admin.IncrementalAlterConfigsAsync(Set(resource, Heartbeat, "7000"));
        var entries = (await admin.DescribeConfigsAsync([resource])).Single().Entries;
        var refused = await Assert.ThrowsAsync<IncrementalAlterConfigsException>(() => admin.IncrementalAlterConfigsAsync(Set(resource, Heartbeat, "16000")));

        // A member joining over the wire is told the group's interval (KafkaCluster's brokers default to 500 ms).
        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(0));
        await wire.SendAsync(ApiKey.ConsumerGroupHeartbeat, 0, w => new M.ConsumerGroupHeartbeatRequest(group, "", 0, null, null, 30_000, [topic], null, null, []).Write(w, 0));
        var frame = await wire.ReadFrameAsync();
        Assert.NotNull(frame);
        var r = new KafkaReader(frame);
        r.ReadInt32();
        r.SkipTaggedFields();
        var joined = M.ConsumerGroupHeartbeatResponse.Read(ref r, 0);

        Assert.Equal(("7000", Confluent.Kafka.Admin.ConfigSource.GroupConfig), (entries[Heartbeat].Value, entries[Heartbeat].Source));
        Assert.Equal(("45000", Confluent.Kafka.Admin.ConfigSource.DefaultConfig), (entries["consumer.session.timeout.ms"].Value, entries["consumer.session.timeout.ms"].Source));
        Assert.Equal(Confluent.Kafka.ErrorCode.InvalidConfig, refused.Results.Single().Error.Code);
        Assert.Equal(OrleansStream.ErrorCode.None, joined.Error);
        Assert.Equal(7000, joined.HeartbeatIntervalMs);
    }
}
