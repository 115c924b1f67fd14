using OrleansStream.Protocol.Messages;
using OrleansStream.Server.Controller;

namespace OrleansStream.Server.Tests.Controller;

public sealed class TopicConfigsTests
{
    private static readonly Dictionary<string, string> Overrides = new(StringComparer.Ordinal) { ["retention.ms"] = "1000", ["cleanup.policy"] = "delete" };

    private static (Dictionary<string, string>? Configs, ErrorCode Error, string? Message) Alter(bool incremental, params AlterableConfig[] configs) =>
        TopicConfigs.Alter(Overrides, new TopicConfigsChange("t", configs, incremental));

    [Fact]
    public void AlterConfigs_replaces_every_override()
    {
        var (configs, error, _) = Alter(false, new AlterableConfig("segment.ms", AlterConfigOp.Set, "60000"));

        Assert.Equal(ErrorCode.None, error);
        Assert.Equal(new Dictionary<string, string> { ["segment.ms"] = "60000" }, configs);
    }

    [Fact]
    public void Incremental_ops_set_delete_append_and_subtract_on_the_current_overrides()
    {
        var (configs, error, _) = Alter(true,
            new AlterableConfig("retention.ms", AlterConfigOp.Delete, null),
            new AlterableConfig("cleanup.policy", AlterConfigOp.Append, "compact,delete"),
            new AlterableConfig("segment.ms", AlterConfigOp.Set, "60000"));
        var (subtracted, _, _) = TopicConfigs.Alter(configs!, new TopicConfigsChange("t", [new AlterableConfig("cleanup.policy", AlterConfigOp.Subtract, "delete")], true));

        Assert.Equal(ErrorCode.None, error);
        Assert.Equal(new Dictionary<string, string> { ["cleanup.policy"] = "delete,compact", ["segment.ms"] = "60000" }, configs);
        Assert.Equal("compact", subtracted!["cleanup.policy"]);
    }

    [Fact]
    public void Append_to_a_topic_without_the_override_starts_from_Kafkas_default()
    {
        var (configs, _, _) = TopicConfigs.Alter(new Dictionary<string, string>(), new TopicConfigsChange("t", [new AlterableConfig("cleanup.policy", AlterConfigOp.Append, "compact")], true));

        Assert.Equal("delete,compact", configs!["cleanup.policy"]);
    }

    [Theory]
    [InlineData(AlterConfigOp.Append, "retention.ms", "1", ErrorCode.InvalidConfig)]
    [InlineData(AlterConfigOp.Set, "retention.ms", null, ErrorCode.InvalidRequest)]
    [InlineData((AlterConfigOp)9, "retention.ms", "1", ErrorCode.InvalidRequest)]
    public void Bad_changes_get_Kafkas_errors(AlterConfigOp op, string name, string? value, ErrorCode expected)
    {
        var (configs, error, message) = Alter(true, new AlterableConfig(name, op, value));

        Assert.Null(configs);
        Assert.Equal(expected, error);
        Assert.Contains(name, message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_repeated_key_is_an_invalid_request()
    {
        var (_, error, _) = Alter(true, new AlterableConfig("retention.ms", AlterConfigOp.Set, "1"), new AlterableConfig("retention.ms", AlterConfigOp.Delete, null));

        Assert.Equal(ErrorCode.InvalidRequest, error);
    }

    [Fact]
    public void Describe_follows_Kafkas_precedence_and_lists_synonyms_winner_first()
    {
        var brokerDefaults = new Dictionary<string, string> { ["retention.ms"] = "5000", ["segment.bytes"] = "8192" };

        var described = TopicConfigs.Describe(Overrides, brokerDefaults, null, includeSynonyms: true).ToDictionary(c => c.Name);
        var named = TopicConfigs.Describe(Overrides, brokerDefaults, ["segment.bytes"], includeSynonyms: false);

        Assert.Equal(TopicConfigs.BuiltInDefaults.Count, described.Count);
        Assert.Equal(("1000", ConfigSource.DynamicTopicConfig), (described["retention.ms"].Value, described["retention.ms"].Source));
        Assert.Equal(
            [new ConfigSynonym("retention.ms", "1000", ConfigSource.DynamicTopicConfig), new ConfigSynonym("log.retention.ms", "5000", ConfigSource.StaticBrokerConfig),
             new ConfigSynonym("log.retention.ms", "604800000", ConfigSource.DefaultConfig)],
            described["retention.ms"].Synonyms);
        Assert.Equal(("8192", ConfigSource.StaticBrokerConfig), (described["segment.bytes"].Value, described["segment.bytes"].Source));
        Assert.Equal(("0", ConfigSource.DefaultConfig), (described["min.compaction.lag.ms"].Value, described["min.compaction.lag.ms"].Source));
        Assert.Equal("segment.bytes", Assert.Single(named).Name);
        Assert.Empty(named[0].Synonyms);
    }
}
