using OrleansStream.Server;
using static OrleansStream.TestKit.PartitionTestKit;

namespace OrleansStream.Cluster.Tests;

/// <summary>One broker whose topic defaults would make every topic tiered, small-segmented and unproducible with acks=all.</summary>
public sealed class TopicDefaultsFixture : ClusterFixture
{
    public override int SiloCount => 1;

    protected override void ConfigureBroker(BrokerOptions options)
    {
        options.TopicDefaults["min.insync.replicas"] = "2";
        options.TopicDefaults["log_segment_bytes"] = "1024"; // the spelling environment variables use
        options.TopicDefaults["log.local.retention.ms"] = "3600000";
        options.TopicDefaults["remote.storage.enable"] = "true";
    }
}

/// <summary>Kafka's precedence: the topic's own config, then the broker default (<c>OrleansStream:TopicDefaults</c>), then the built-in default.</summary>
public sealed class TopicDefaultsTests(TopicDefaultsFixture fixture) : IClassFixture<TopicDefaultsFixture>
{
    [Fact]
    public async Task ATopicWithoutOverrides_UsesTheBrokerDefaults()
    {
        var topic = UniqueTopic("defaults");
        await fixture.CreateTopic(topic);
        var leader = await fixture.Leader(topic, 0);

        var all = await leader.Produce(new ProduceRequest(Acks.All, 5_000, Batch("v")));
        Assert.Equal(ErrorCode.NotEnoughReplicas, all.Error);
        Assert.Contains("min.insync.replicas=2", all.ErrorMessage);
        await ProduceBatchesAsync(leader);

        Assert.True(LogFiles(topic) > 1, "segment.bytes from log.segment.bytes=1024 should have rolled the log");
        Assert.Empty((await Metadata(topic)).Configs); // a topic stores and shows only its own overrides
    }

    [Fact]
    public async Task ATopicsOwnConfig_OverridesTheBrokerDefault()
    {
        var topic = UniqueTopic("overrides");
        await fixture.CreateTopic(topic, configs: new() { ["min.insync.replicas"] = "1", ["segment.bytes"] = "1048576" });
        var leader = await fixture.Leader(topic, 0);

        Assert.Equal(ErrorCode.None, (await leader.Produce(new ProduceRequest(Acks.All, 5_000, Batch("v")))).Error);
        await ProduceBatchesAsync(leader);

        Assert.Equal(1, LogFiles(topic));
        Assert.Equal(2, (await Metadata(topic)).Configs.Count);
    }

    [Fact]
    public async Task Overrides_AreCheckedTogetherWithTheDefaults()
    {
        // retention.ms below the default log.local.retention.ms of a tiered topic: Kafka refuses it, so do we.
        var result = Assert.Single(await fixture.Controller.CreateTopics([new NewTopic(UniqueTopic("short"), 1, 1,
            new Dictionary<string, string> { ["retention.ms"] = "60000" })]));
        Assert.Equal(ErrorCode.InvalidConfig, result.Error);
        Assert.Contains("local.retention.ms", result.ErrorMessage);

        var optedOut = Assert.Single(await fixture.Controller.CreateTopics([new NewTopic(UniqueTopic("short"), 1, 1,
            new Dictionary<string, string> { ["retention.ms"] = "60000", ["remote.storage.enable"] = "false" })]));
        Assert.Equal(ErrorCode.None, optedOut.Error);
    }

    [Theory]
    [InlineData("log.segment.bytes", "10", "OrleansStream:TopicDefaults:log.segment.bytes '10' is invalid")]
    [InlineData("log_retention_ms", "soon", "OrleansStream:TopicDefaults:log_retention_ms 'soon' is invalid")]
    [InlineData("min.insync.replicas", "0", "OrleansStream:TopicDefaults:min.insync.replicas '0' is invalid")]
    [InlineData("log.cleanup.policy", "forever", "OrleansStream:TopicDefaults:log.cleanup.policy 'forever' is invalid")]
    [InlineData("segment.bytes", "1024", "OrleansStream:TopicDefaults:segment.bytes is not a broker topic default")]
    public void ABadDefault_FailsValidationNamingTheKey(string key, string value, string expected)
    {
        var options = new BrokerOptions { TopicDefaults = { [key] = value } };

        var result = new BrokerOptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        Assert.Contains(expected, result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Defaults_AreCheckedTogether_AndAgainstTheTieringSwitch()
    {
        var validator = new BrokerOptionsValidator();
        var inconsistent = new BrokerOptions
        {
            TopicDefaults = { ["remote.storage.enable"] = "true", ["log.retention.ms"] = "60000", ["log.local.retention.ms"] = "3600000" },
        };
        Assert.Contains("OrleansStream:TopicDefaults is inconsistent", validator.Validate(null, inconsistent).FailureMessage, StringComparison.Ordinal);

        var tieringOff = new BrokerOptions { RemoteLogStorageSystemEnable = false, TopicDefaults = { ["remote.storage.enable"] = "true" } };
        Assert.Contains("remote.log.storage.system.enable=false", validator.Validate(null, tieringOff).FailureMessage, StringComparison.Ordinal);

        var smallDisk = new BrokerOptions
        {
            TopicDefaults =
            {
                ["log.segment.bytes"] = "67108864", ["log.roll.ms"] = "3600000", ["log.retention.ms"] = "604800000",
                ["log.retention.bytes"] = "-1", ["log.local.retention.ms"] = "3600000", ["log.local.retention.bytes"] = "536870912",
                ["log.cleanup.policy"] = "delete", ["min.insync.replicas"] = "2", ["message.max.bytes"] = "1048588",
                ["remote.storage.enable"] = "true",
            },
        };
        Assert.True(validator.Validate(null, smallDisk).Succeeded);
    }

    private static async Task ProduceBatchesAsync(IPartitionReplicaGrain leader)
    {
        for (var i = 0; i < 8; i++)
            Assert.Equal(ErrorCode.None, (await leader.Produce(new ProduceRequest(Acks.Leader, 5_000, Batch(new string('x', 300))))).Error);
    }

    private int LogFiles(string topic) =>
        Directory.GetFiles(Path.Combine(fixture.DataDirectory(ClusterFixture.BrokerIdOf(0)), $"{topic}-0"), "*.log").Length;

    private async Task<TopicMetadata> Metadata(string topic) =>
        Assert.Single((await fixture.Controller.GetMetadata(new MetadataRequest([topic]))).Topics);
}
