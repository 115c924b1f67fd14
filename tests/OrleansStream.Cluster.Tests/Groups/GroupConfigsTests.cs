using OrleansStream.Client;
using OrleansStream.Client.Admin;

namespace OrleansStream.Cluster.Tests.Groups;

/// <summary>
/// A group's configs (KIP-848) through the SDK's DescribeConfigs and IncrementalAlterConfigs: the coordinator runs the
/// group with them, they can be set before the group exists, and they outlive its activation and its deletion, as
/// Kafka's do.
/// </summary>
[Collection(GroupCollection.Name)]
public sealed class GroupConfigsTests(GroupFixture fixture)
{
    private const string Heartbeat = "consumer.heartbeat.interval.ms";
    private const string Session = "consumer.session.timeout.ms";

    private static Dictionary<ConfigResource, List<ConfigEntry>> Change(ConfigResource resource, string name, string? value, AlterConfigOpType op) =>
        new() { [resource] = [new ConfigEntry { Name = name, Value = value, IncrementalOperation = op }] };

    private static async Task<Dictionary<string, ConfigEntryResult>> DescribeAsync(IAdminClient admin, ConfigResource resource) =>
        Assert.Single(await admin.DescribeConfigsAsync([resource])).Entries;

    [Fact]
    public async Task A_groups_configs_set_before_it_exists_run_its_heartbeats_and_outlive_its_activation_and_deletion()
    {
        var topic = GroupFixture.Unique("cfg-topic");
        var group = GroupFixture.Unique("g-cfg");
        await fixture.CreateTopicAsync(topic, 2);
        using var admin = new AdminClientBuilder(fixture.Client).Build();
        var resource = new ConfigResource { Type = ResourceType.Group, Name = group };

        // The broker's settings (GroupFixture's 200 ms interval) as DEFAULT_CONFIG, then the group's own.
        var before = await DescribeAsync(admin, resource);
        Assert.Equal(("200", ConfigSource.DefaultConfig), (before[Heartbeat].Value, before[Heartbeat].Source));
        Assert.Equal(("45000", ConfigSource.DefaultConfig), (before[Session].Value, before[Session].Source));
        await admin.IncrementalAlterConfigsAsync(Change(resource, Heartbeat, "300", AlterConfigOpType.Set));
        var set = await DescribeAsync(admin, resource);
        Assert.Equal(("300", ConfigSource.GroupConfig, false), (set[Heartbeat].Value, set[Heartbeat].Source, set[Heartbeat].IsDefault));

        // A member of the consumer protocol is told the group's interval.
        var grain = fixture.Client.GetGrain<IConsumerGroupGrain>(group);
        var member = Guid.NewGuid().ToString("N");
        var joined = await grain.ConsumerGroupHeartbeat(new ConsumerGroupHeartbeatRequest(member, 0, null, null, 30_000, [topic], null, null, []));
        Assert.Equal((ErrorCode.None, 300), (joined.Error, joined.HeartbeatIntervalMs));

        // The next activation loads them.
        await fixture.Cluster.DeactivateAsync(grain);
        var again = await grain.ConsumerGroupHeartbeat(new ConsumerGroupHeartbeatRequest(member, joined.MemberEpoch, null, null, -1, null, null, null, null));
        Assert.Equal((ErrorCode.None, 300), (again.Error, again.HeartbeatIntervalMs));

        // The group is deleted; its configs stay, as Kafka keeps them apart from the group.
        Assert.Equal(ErrorCode.None, (await grain.ConsumerGroupHeartbeat(new ConsumerGroupHeartbeatRequest(member, -1, null, null, -1, null, null, null, null))).Error);
        await admin.DeleteGroupsAsync([group]);
        Assert.Equal("300", (await DescribeAsync(admin, resource))[Heartbeat].Value);

        // DELETE goes back to the broker's value.
        await admin.IncrementalAlterConfigsAsync(Change(resource, Heartbeat, null, AlterConfigOpType.Delete));
        var after = await DescribeAsync(admin, resource);
        Assert.Equal(("200", ConfigSource.DefaultConfig), (after[Heartbeat].Value, after[Heartbeat].Source));
    }

    [Fact]
    public async Task Kafkas_checks_refuse_a_value_outside_the_brokers_bounds_and_an_unknown_name_and_change_nothing()
    {
        var group = GroupFixture.Unique("g-cfg-bad");
        using var admin = new AdminClientBuilder(fixture.Client).Build();
        var resource = new ConfigResource { Type = ResourceType.Group, Name = group };

        var tooShort = await Assert.ThrowsAsync<IncrementalAlterConfigsException>(() => admin.IncrementalAlterConfigsAsync(Change(resource, Session, "1000", AlterConfigOpType.Set)));
        var unknown = await Assert.ThrowsAsync<IncrementalAlterConfigsException>(() => admin.IncrementalAlterConfigsAsync(Change(resource, "session.timeout.ms", "50000", AlterConfigOpType.Set)));
        var unnamed = await Assert.ThrowsAsync<IncrementalAlterConfigsException>(() =>
            admin.IncrementalAlterConfigsAsync(Change(new ConfigResource { Type = ResourceType.Group, Name = "" }, Session, "50000", AlterConfigOpType.Set)));
        // Validate-only checks and stores nothing.
        await admin.IncrementalAlterConfigsAsync(Change(resource, Session, "50000", AlterConfigOpType.Set), new IncrementalAlterConfigsOptions { ValidateOnly = true });

        var report = Assert.Single(tooShort.Results).Error;
        Assert.Equal((ErrorCode.InvalidConfig, "consumer.session.timeout.ms must be greater than or equal to group.consumer.min.session.timeout.ms"), (report.Code, report.Reason));
        Assert.Equal((ErrorCode.InvalidConfig, "Unknown group config name: session.timeout.ms"), (unknown.Results[0].Error.Code, unknown.Results[0].Error.Reason));
        Assert.Equal(ErrorCode.InvalidRequest, unnamed.Results[0].Error.Code);
        var entries = await DescribeAsync(admin, resource);
        Assert.All(entries.Values, static e => Assert.Equal(ConfigSource.DefaultConfig, e.Source));
    }
}
