using OrleansStream.Client;
using OrleansStream.Client.Admin;

namespace OrleansStream.Cluster.Tests;

/// <summary>
/// The SDK's config admin calls against the three-silo cluster: what DescribeConfigs reports (sources, defaults,
/// synonyms), Kafka's incremental and legacy alter semantics, and errors reported per resource.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class AdminConfigsTests(ClusterFixture fixture)
{
    private static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..24];

    private static ConfigResource Topic(string name) => new() { Type = ResourceType.Topic, Name = name };

    private IAdminClient Admin() => new AdminClientBuilder(fixture.Client).Build();

    private static async Task<string> CreateTopicAsync(IAdminClient admin, string prefix, Dictionary<string, string>? configs = null)
    {
        var name = Unique(prefix);
        await admin.CreateTopicsAsync([new TopicSpecification { Name = name, NumPartitions = 1, ReplicationFactor = 1, Configs = configs }]);
        return name;
    }

    private static async Task<Dictionary<string, ConfigEntryResult>> DescribeAsync(IAdminClient admin, string topic)
    {
        var results = await admin.DescribeConfigsAsync([Topic(topic)]);
        var result = Assert.Single(results);
        Assert.Equal(Topic(topic), result.ConfigResource);
        return result.Entries;
    }

    private static ConfigEntry Op(string name, string? value, AlterConfigOpType op) => new() { Name = name, Value = value, IncrementalOperation = op };

    [Fact]
    public async Task DescribeConfigs_ReportsAnOverrideAsDynamicTopicConfig_AndTheRestAsDefaults()
    {
        using var admin = Admin();
        var topic = await CreateTopicAsync(admin, "cfg-describe", new() { ["retention.ms"] = "123456" });

        var entries = await DescribeAsync(admin, topic);

        var retention = entries["retention.ms"];
        Assert.Equal("123456", retention.Value);
        Assert.Equal(ConfigSource.DynamicTopicConfig, retention.Source);
        Assert.False(retention.IsDefault);
        Assert.False(retention.IsReadOnly);
        Assert.False(retention.IsSensitive);
        Assert.Equal([(ConfigSource.DynamicTopicConfig, "retention.ms"), (ConfigSource.DefaultConfig, "log.retention.ms")],
            retention.Synonyms.Select(static s => (s.Source, s.Name)));
        var segment = entries["segment.bytes"];
        Assert.Equal(ConfigSource.DefaultConfig, segment.Source);
        Assert.True(segment.IsDefault);
        Assert.Equal("1073741824", segment.Value);
        Assert.Contains("cleanup.policy", entries.Keys);
    }

    [Fact]
    public async Task IncrementalAlterConfigs_SetsDeletesAppendsAndSubtracts_AsDescribeThenShows()
    {
        using var admin = Admin();
        var topic = await CreateTopicAsync(admin, "cfg-incr", new() { ["retention.ms"] = "123456", ["max.message.bytes"] = "4096" });

        var results = await admin.IncrementalAlterConfigsAsync(new()
        {
            [Topic(topic)] =
            [
                Op("retention.ms", "654321", AlterConfigOpType.Set),
                Op("max.message.bytes", null, AlterConfigOpType.Delete),
                Op("cleanup.policy", "compact", AlterConfigOpType.Append),
            ],
        });
        Assert.Equal(Topic(topic), Assert.Single(results).ConfigResource);

        var entries = await DescribeAsync(admin, topic);
        Assert.Equal(("654321", ConfigSource.DynamicTopicConfig), (entries["retention.ms"].Value, entries["retention.ms"].Source));
        Assert.Equal(ConfigSource.DefaultConfig, entries["max.message.bytes"].Source);
        Assert.NotEqual("4096", entries["max.message.bytes"].Value);
        Assert.Equal(("delete,compact", ConfigSource.DynamicTopicConfig), (entries["cleanup.policy"].Value, entries["cleanup.policy"].Source));

        await admin.IncrementalAlterConfigsAsync(new() { [Topic(topic)] = [Op("cleanup.policy", "delete", AlterConfigOpType.Subtract)] });

        Assert.Equal("compact", (await DescribeAsync(admin, topic))["cleanup.policy"].Value);
    }

    [Fact]
    public async Task ValidateOnly_ChecksButChangesNothing()
    {
        using var admin = Admin();
        var topic = await CreateTopicAsync(admin, "cfg-validate", new() { ["retention.ms"] = "123456" });

        await admin.IncrementalAlterConfigsAsync(new() { [Topic(topic)] = [Op("retention.ms", "1", AlterConfigOpType.Set)] },
            new IncrementalAlterConfigsOptions { ValidateOnly = true });
        await admin.AlterConfigsAsync(new() { [Topic(topic)] = [new ConfigEntry { Name = "segment.ms", Value = "60000" }] },
            new AlterConfigsOptions { ValidateOnly = true });
        var refused = await Assert.ThrowsAsync<IncrementalAlterConfigsException>(() => admin.IncrementalAlterConfigsAsync(
            new() { [Topic(topic)] = [Op("retention.ms", "not-a-number", AlterConfigOpType.Set)] }, new IncrementalAlterConfigsOptions { ValidateOnly = true }));
        Assert.Equal(ErrorCode.InvalidConfig, Assert.Single(refused.Results).Error.Code);

        var entries = await DescribeAsync(admin, topic);
        Assert.Equal("123456", entries["retention.ms"].Value);
        Assert.Equal(ConfigSource.DefaultConfig, entries["segment.ms"].Source);
    }

    [Fact]
    public async Task AlterConfigs_ReplacesEveryOverride()
    {
        using var admin = Admin();
        var topic = await CreateTopicAsync(admin, "cfg-legacy", new() { ["retention.ms"] = "123456" });

        // The incremental op is ignored by the legacy call: every entry is set.
        await admin.AlterConfigsAsync(new() { [Topic(topic)] = [Op("segment.ms", "60000", AlterConfigOpType.Delete)] });

        var entries = await DescribeAsync(admin, topic);
        Assert.Equal(ConfigSource.DefaultConfig, entries["retention.ms"].Source);
        Assert.Equal(("60000", ConfigSource.DynamicTopicConfig), (entries["segment.ms"].Value, entries["segment.ms"].Source));
    }

    [Fact]
    public async Task DescribeConfigs_OfAnUnknownTopic_FailsThatResourceOnly()
    {
        using var admin = Admin();
        var topic = await CreateTopicAsync(admin, "cfg-known");
        var missing = Unique("cfg-missing");

        var e = await Assert.ThrowsAsync<DescribeConfigsException>(() => admin.DescribeConfigsAsync([Topic(missing), Topic(topic)]));

        Assert.Equal(ErrorCode.UnknownTopicOrPartition, e.Error.Code);
        Assert.Equal(2, e.Results.Count);
        Assert.Equal(Topic(missing), e.Results[0].ConfigResource);
        Assert.Equal(ErrorCode.UnknownTopicOrPartition, e.Results[0].Error.Code);
        Assert.Empty(e.Results[0].Entries);
        Assert.False(e.Results[1].Error.IsError);
        Assert.Contains("retention.ms", e.Results[1].Entries.Keys);
    }

    [Fact]
    public async Task IncrementalAlterConfigs_RefusesABadResource_AndAppliesTheGoodOne()
    {
        using var admin = Admin();
        var bad = await CreateTopicAsync(admin, "cfg-bad");
        var good = await CreateTopicAsync(admin, "cfg-good");
        var missing = Unique("cfg-missing");

        var e = await Assert.ThrowsAsync<IncrementalAlterConfigsException>(() => admin.IncrementalAlterConfigsAsync(new()
        {
            [Topic(bad)] = [Op("retention.ms", "not-a-number", AlterConfigOpType.Set)],
            [Topic(good)] = [Op("retention.ms", "777777", AlterConfigOpType.Set)],
            [Topic(missing)] = [Op("retention.ms", "1", AlterConfigOpType.Set)],
            [new ConfigResource { Type = ResourceType.Broker, Name = "0" }] = [Op("log.retention.ms", "1", AlterConfigOpType.Set)],
        }));

        var byResource = e.Results.ToDictionary(static r => r.ConfigResource, static r => r.Error);
        Assert.Equal(ErrorCode.InvalidConfig, byResource[Topic(bad)].Code);
        Assert.Contains("retention.ms", byResource[Topic(bad)].Reason);
        Assert.False(byResource[Topic(good)].IsError);
        Assert.Equal(ErrorCode.UnknownTopicOrPartition, byResource[Topic(missing)].Code);
        Assert.Equal(ErrorCode.InvalidRequest, byResource[new ConfigResource { Type = ResourceType.Broker, Name = "0" }].Code);
        Assert.Equal("777777", (await DescribeAsync(admin, good))["retention.ms"].Value);
        Assert.Equal(ConfigSource.DefaultConfig, (await DescribeAsync(admin, bad))["retention.ms"].Source);
    }

    [Fact]
    public async Task IncrementalAlterConfigs_AppendToAConfigThatIsNotAList_IsInvalidConfig()
    {
        using var admin = Admin();
        var topic = await CreateTopicAsync(admin, "cfg-append");

        var e = await Assert.ThrowsAsync<IncrementalAlterConfigsException>(() => admin.IncrementalAlterConfigsAsync(
            new() { [Topic(topic)] = [Op("retention.ms", "1", AlterConfigOpType.Append)] }));

        var report = Assert.Single(e.Results);
        Assert.Equal(ErrorCode.InvalidConfig, report.Error.Code);
        Assert.Equal("Config value append is not allowed for config key: retention.ms", report.Error.Reason);
    }

    [Fact]
    public async Task DescribeConfigs_OfTheBroker_AnswersTheControllersBrokerOnly()
    {
        using var admin = Admin();

        var any = Assert.Single(await admin.DescribeConfigsAsync([new ConfigResource { Type = ResourceType.Broker, Name = "" }]));
        var nodeId = any.Entries["node.id"].Value!;
        var own = Assert.Single(await admin.DescribeConfigsAsync([new ConfigResource { Type = ResourceType.Broker, Name = nodeId }]));
        var other = await Assert.ThrowsAsync<DescribeConfigsException>(() =>
            admin.DescribeConfigsAsync([new ConfigResource { Type = ResourceType.Broker, Name = "999999" }]));

        Assert.True(own.Entries["log.retention.ms"].IsReadOnly);
        Assert.Equal(ConfigSource.StaticBrokerConfig, own.Entries["node.id"].Source);
        Assert.Equal(ErrorCode.InvalidRequest, Assert.Single(other.Results).Error.Code);
        Assert.Equal($"Unexpected broker id, expected {nodeId} but received 999999.", other.Results[0].Error.Reason);
    }
}
