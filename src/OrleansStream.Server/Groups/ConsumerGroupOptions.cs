using Microsoft.Extensions.Options;

namespace OrleansStream.Server.Groups;

/// <summary>The group coordinator's broker settings, Kafka's keys and defaults.</summary>
public sealed class ConsumerGroupOptions
{
    /// <summary>The configuration section bound to these options.</summary>
    public const string ConfigurationSection = "OrleansStream:Groups";

    /// <summary>
    /// A <see cref="TimeProvider"/> registered under this key drives the coordinator's clock (sessions, rebalance
    /// deadlines, offset retention) instead of the silo's, so tests can fake the group's time alone.
    /// </summary>
    public const string TimeProviderKey = "OrleansStream.Groups";

    /// <summary><c>group.min.session.timeout.ms</c>: the shortest session a member may ask for.</summary>
    public int GroupMinSessionTimeoutMs { get; set; } = 6000;

    /// <summary><c>group.max.session.timeout.ms</c>: the longest session a member may ask for.</summary>
    public int GroupMaxSessionTimeoutMs { get; set; } = 1800000;

    /// <summary><c>group.initial.rebalance.delay.ms</c>: how long the first rebalance of an empty group waits for more members.</summary>
    public int GroupInitialRebalanceDelayMs { get; set; } = 3000;

    /// <summary><c>group.max.size</c>: most members in one group.</summary>
    public int GroupMaxSize { get; set; } = int.MaxValue;

    /// <summary><c>offsets.retention.minutes</c>: how long an empty group keeps its committed offsets.</summary>
    public int OffsetsRetentionMinutes { get; set; } = 10080;

    /// <summary><c>offset.metadata.max.bytes</c>: the longest metadata string a commit may carry, in UTF-16 code units (Kafka compares Java's <c>String.length()</c> despite the name).</summary>
    public int OffsetMetadataMaxBytes { get; set; } = 4096;

    /// <summary>How often the coordinator looks for expired sessions and rebalance deadlines (not a Kafka key).</summary>
    public int ExpirationCheckIntervalMs { get; set; } = 100;

    /// <summary><c>group.consumer.session.timeout.ms</c>: how long a consumer group member (KIP-848) lives without a heartbeat.</summary>
    public int ConsumerSessionTimeoutMs { get; set; } = 45000;

    /// <summary><c>group.consumer.heartbeat.interval.ms</c>: how often consumer group members heartbeat, told in every answer.</summary>
    public int ConsumerHeartbeatIntervalMs { get; set; } = 5000;

    /// <summary><c>group.consumer.min.session.timeout.ms</c>: the shortest session a group's <c>consumer.session.timeout.ms</c> may set.</summary>
    public int ConsumerMinSessionTimeoutMs { get; set; } = 45000;

    /// <summary><c>group.consumer.max.session.timeout.ms</c>: the longest session a group's <c>consumer.session.timeout.ms</c> may set.</summary>
    public int ConsumerMaxSessionTimeoutMs { get; set; } = 60000;

    /// <summary><c>group.consumer.min.heartbeat.interval.ms</c>: the shortest interval a group's <c>consumer.heartbeat.interval.ms</c> may set.</summary>
    public int ConsumerMinHeartbeatIntervalMs { get; set; } = 5000;

    /// <summary><c>group.consumer.max.heartbeat.interval.ms</c>: the longest interval a group's <c>consumer.heartbeat.interval.ms</c> may set.</summary>
    public int ConsumerMaxHeartbeatIntervalMs { get; set; } = 15000;

    /// <summary><c>group.consumer.max.size</c>: most members in one consumer group.</summary>
    public int ConsumerGroupMaxSize { get; set; } = int.MaxValue;

    /// <summary>
    /// How often a consumer group looks again at the partitions of the topics its members subscribe to, so that a topic
    /// created or grown is assigned (not a Kafka key: Kafka's coordinator is told of every metadata change; this one asks
    /// the controller at a member's heartbeat once this has passed).
    /// </summary>
    public int ConsumerMetadataRefreshIntervalMs { get; set; } = 5000;

    /// <summary>
    /// <c>group.consumer.migration.policy</c> (Kafka 4's default <see cref="ConsumerGroupMigrationPolicy.Bidirectional"/>):
    /// whether a classic group with members becomes a consumer group when a member joins with ConsumerGroupHeartbeat
    /// (upgrade), and a consumer group whose last consumer protocol member leaves becomes a classic group of the classic
    /// members left (downgrade). Empty groups change kind whatever this says.
    /// </summary>
    public ConsumerGroupMigrationPolicy ConsumerMigrationPolicy { get; set; } = ConsumerGroupMigrationPolicy.Bidirectional;
}

/// <summary>Kafka's <c>ConsumerGroupMigrationPolicy</c>: the values of <c>group.consumer.migration.policy</c>.</summary>
public enum ConsumerGroupMigrationPolicy
{
    /// <summary><c>disabled</c>: neither upgrade nor downgrade of a group with members.</summary>
    Disabled,

    /// <summary><c>upgrade</c>: a classic group with members becomes a consumer group; no downgrade.</summary>
    Upgrade,

    /// <summary><c>downgrade</c>: a consumer group left with classic members alone becomes a classic group; no upgrade.</summary>
    Downgrade,

    /// <summary><c>bidirectional</c>: both.</summary>
    Bidirectional,
}

internal static class ConsumerGroupMigrationPolicyExtensions
{
    public static bool IsUpgradeEnabled(this ConsumerGroupMigrationPolicy policy) =>
        policy is ConsumerGroupMigrationPolicy.Upgrade or ConsumerGroupMigrationPolicy.Bidirectional;

    public static bool IsDowngradeEnabled(this ConsumerGroupMigrationPolicy policy) =>
        policy is ConsumerGroupMigrationPolicy.Downgrade or ConsumerGroupMigrationPolicy.Bidirectional;
}

internal sealed class ConsumerGroupOptionsValidator : IValidateOptions<ConsumerGroupOptions>
{
    public ValidateOptionsResult Validate(string? name, ConsumerGroupOptions o)
    {
        List<string>? errors = null;
        void Require(bool ok, string message) { if (!ok) (errors ??= []).Add(message); }
        Require(o.GroupMinSessionTimeoutMs > 0, "group.min.session.timeout.ms must be > 0");
        Require(o.GroupMaxSessionTimeoutMs >= o.GroupMinSessionTimeoutMs, "group.max.session.timeout.ms must be >= group.min.session.timeout.ms");
        Require(o.GroupInitialRebalanceDelayMs >= 0, "group.initial.rebalance.delay.ms must be >= 0");
        Require(o.GroupMaxSize >= 1, "group.max.size must be >= 1");
        Require(o.OffsetsRetentionMinutes >= 1, "offsets.retention.minutes must be >= 1");
        Require(o.OffsetMetadataMaxBytes >= 0, "offset.metadata.max.bytes must be >= 0");
        Require(o.ExpirationCheckIntervalMs > 0, "the expiration check interval must be > 0");
        Require(o.ConsumerSessionTimeoutMs > 0, "group.consumer.session.timeout.ms must be > 0");
        Require(o.ConsumerHeartbeatIntervalMs > 0 && o.ConsumerHeartbeatIntervalMs < o.ConsumerSessionTimeoutMs,
            "group.consumer.heartbeat.interval.ms must be > 0 and < group.consumer.session.timeout.ms");
        // Kafka's GroupCoordinatorConfig: the defaults lie within the bounds that a group's own configs must keep to.
        Require(o.ConsumerMinSessionTimeoutMs > 0 && o.ConsumerMaxSessionTimeoutMs >= o.ConsumerMinSessionTimeoutMs,
            "group.consumer.max.session.timeout.ms must be >= group.consumer.min.session.timeout.ms > 0");
        Require(o.ConsumerSessionTimeoutMs >= o.ConsumerMinSessionTimeoutMs && o.ConsumerSessionTimeoutMs <= o.ConsumerMaxSessionTimeoutMs,
            "group.consumer.session.timeout.ms must be between group.consumer.min.session.timeout.ms and group.consumer.max.session.timeout.ms");
        Require(o.ConsumerMinHeartbeatIntervalMs > 0 && o.ConsumerMaxHeartbeatIntervalMs >= o.ConsumerMinHeartbeatIntervalMs,
            "group.consumer.max.heartbeat.interval.ms must be >= group.consumer.min.heartbeat.interval.ms > 0");
        Require(o.ConsumerHeartbeatIntervalMs >= o.ConsumerMinHeartbeatIntervalMs && o.ConsumerHeartbeatIntervalMs <= o.ConsumerMaxHeartbeatIntervalMs,
            "group.consumer.heartbeat.interval.ms must be between group.consumer.min.heartbeat.interval.ms and group.consumer.max.heartbeat.interval.ms");
        Require(o.ConsumerGroupMaxSize >= 1, "group.consumer.max.size must be >= 1");
        Require(o.ConsumerMetadataRefreshIntervalMs > 0, "the consumer group metadata refresh interval must be > 0");
        Require(Enum.IsDefined(o.ConsumerMigrationPolicy),
            "group.consumer.migration.policy must be one of disabled, upgrade, downgrade, bidirectional");
        return errors is null ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
