using OrleansStream.Protocol.Messages;
using OrleansStream.Server.Groups;

namespace OrleansStream.Server.Tests.Groups;

/// <summary>
/// Kafka's group configs (KIP-848): the checks of <c>GroupConfig.validate</c> with its messages, incremental and legacy
/// alteration, and the description with Kafka's sources.
/// </summary>
public class GroupConfigsTests
{
    private const string Session = GroupConfigs.ConsumerSessionTimeoutMs;
    private const string Heartbeat = GroupConfigs.ConsumerHeartbeatIntervalMs;

    private readonly ConsumerGroupOptions _options = new();

    private static AlterableConfig Set(string name, string? value) => new(name, AlterConfigOp.Set, value);

    private (Dictionary<string, string>? Configs, ErrorCode Error, string? Message) Alter(IReadOnlyDictionary<string, string> current, bool incremental,
        params AlterableConfig[] changes) => GroupConfigs.Alter("g", current, changes, incremental, _options);

    [Theory]
    [InlineData("consumer.max.poll.records", "10", "Unknown group config name: consumer.max.poll.records")]
    [InlineData(Session, "abc", "Invalid value abc for configuration consumer.session.timeout.ms: Not a number of type INT")]
    [InlineData(Session, "2147483648", "Invalid value 2147483648 for configuration consumer.session.timeout.ms: Not a number of type INT")]
    [InlineData(Session, "0", "Invalid value 0 for configuration consumer.session.timeout.ms: Value must be at least 1")]
    [InlineData(Session, "44999", "consumer.session.timeout.ms must be greater than or equal to group.consumer.min.session.timeout.ms")]
    [InlineData(Session, "60001", "consumer.session.timeout.ms must be less than or equal to group.consumer.max.session.timeout.ms")]
    [InlineData(Heartbeat, "4999", "consumer.heartbeat.interval.ms must be greater than or equal to group.consumer.min.heartbeat.interval.ms")]
    [InlineData(Heartbeat, "15001", "consumer.heartbeat.interval.ms must be less than or equal to group.consumer.max.heartbeat.interval.ms")]
    public void A_value_Kafka_refuses_is_InvalidConfig_with_its_message(string name, string value, string message)
    {
        var (configs, error, text) = Alter(new Dictionary<string, string>(), incremental: true, Set(name, value));

        Assert.Null(configs);
        Assert.Equal(ErrorCode.InvalidConfig, error);
        Assert.Equal(message, text);
    }

    [Fact]
    public void The_session_must_outlast_the_heartbeat_interval_as_the_group_would_run()
    {
        var options = new ConsumerGroupOptions { ConsumerMaxHeartbeatIntervalMs = 50_000 };

        // 46 s against the broker's 45 s session: refused though each value lies within its own bounds.
        var (configs, error, message) = GroupConfigs.Alter("g", new Dictionary<string, string>(), [Set(Heartbeat, "46000")], incremental: true, options);
        Assert.Null(configs);
        Assert.Equal(ErrorCode.InvalidConfig, error);
        Assert.Equal("consumer.session.timeout.ms must be greater than consumer.heartbeat.interval.ms", message);

        // With the group's own session long enough, it is taken.
        (configs, error, _) = GroupConfigs.Alter("g", new Dictionary<string, string>(), [Set(Heartbeat, "46000"), Set(Session, "50000")], incremental: true, options);
        Assert.Equal(ErrorCode.None, error);
        Assert.Equal(new ConsumerGroupSettings(50_000, 46_000), GroupConfigs.Effective(configs!, options));
    }

    [Fact]
    public void Incremental_alteration_keeps_the_other_configs_and_legacy_alteration_replaces_them()
    {
        var current = new Dictionary<string, string> { [Session] = "50000", [Heartbeat] = "6000" };

        var (incremental, error, _) = Alter(current, incremental: true, Set(Heartbeat, "7000"));
        Assert.Equal(ErrorCode.None, error);
        Assert.Equal(new Dictionary<string, string> { [Session] = "50000", [Heartbeat] = "7000" }, incremental);

        var (deleted, _, _) = Alter(current, incremental: true, new AlterableConfig(Session, AlterConfigOp.Delete, null));
        Assert.Equal(new Dictionary<string, string> { [Heartbeat] = "6000" }, deleted);

        var (legacy, _, _) = Alter(current, incremental: false, Set(Heartbeat, "7000"));
        Assert.Equal(new Dictionary<string, string> { [Heartbeat] = "7000" }, legacy);
    }

    [Fact]
    public void Kafka_refuses_list_ops_repeated_names_null_values_and_the_default_group()
    {
        var none = new Dictionary<string, string>();
        var append = Alter(none, incremental: true, new AlterableConfig(Session, AlterConfigOp.Append, "50000"));
        Assert.Equal((ErrorCode.InvalidConfig, "Config value append is not allowed for config key: consumer.session.timeout.ms"), (append.Error, append.Message));

        var twice = Alter(none, incremental: true, Set(Session, "50000"), Set(Session, "55000"));
        Assert.Equal((ErrorCode.InvalidRequest, "Config 'consumer.session.timeout.ms' appears more than once for group 'g'."), (twice.Error, twice.Message));

        Assert.Equal(ErrorCode.InvalidRequest, Alter(none, incremental: true, Set(Session, null)).Error);

        var unnamed = GroupConfigs.Alter("", none, [Set(Session, "50000")], incremental: true, _options);
        Assert.Equal((ErrorCode.InvalidRequest, "Default group resources are not allowed."), (unnamed.Error, unnamed.Message));
    }

    [Fact]
    public void Describe_reports_the_groups_value_as_GROUP_CONFIG_and_the_brokers_as_DEFAULT_CONFIG()
    {
        var options = new ConsumerGroupOptions { ConsumerHeartbeatIntervalMs = 6000 };
        var described = GroupConfigs.Describe(new Dictionary<string, string> { [Session] = "50000" }, options, names: null, includeSynonyms: true);

        Assert.Equal([Heartbeat, Session], described.Select(static c => c.Name));
        var heartbeat = described[0];
        Assert.Equal(("6000", ConfigSource.DefaultConfig, false), (heartbeat.Value, heartbeat.Source, heartbeat.ReadOnly));
        Assert.Equal([new ConfigSynonym(Heartbeat, "6000", ConfigSource.DefaultConfig)], heartbeat.Synonyms);
        var session = described[1];
        Assert.Equal(("50000", ConfigSource.GroupConfig), (session.Value, session.Source));

        var one = Assert.Single(GroupConfigs.Describe(new Dictionary<string, string>(), options, [Session], includeSynonyms: false));
        Assert.Equal(("45000", ConfigSource.DefaultConfig), (one.Value, one.Source));
        Assert.Empty(one.Synonyms);
    }
}
