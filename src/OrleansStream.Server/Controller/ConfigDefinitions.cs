using System.Collections.Frozen;
using OrleansStream.Protocol.Messages;
using OrleansStream.Storage;

namespace OrleansStream.Server.Controller;

/// <summary>A config's type and documentation, as DescribeConfigs v3+ answers them (Kafka's <c>ConfigDef.ConfigKey</c>).</summary>
internal readonly record struct ConfigDefinition(ConfigType Type, string Documentation);

/// <summary>
/// Kafka's <c>ConfigDef</c> for every config this broker describes: a topic's (<c>LogConfig</c>), a broker's
/// (<c>KafkaConfig</c>) and a group's (<c>GroupConfig</c>), with Kafka's types. The documentation is this broker's own
/// and says what the setting does here. A test checks that every described config is defined, so a config cannot be
/// added to a description without its type and documentation.
/// </summary>
internal static class ConfigDefinitions
{
    public static readonly FrozenDictionary<string, ConfigDefinition> Topic = new Dictionary<string, ConfigDefinition>(StringComparer.Ordinal)
    {
        [LogConfig.SegmentBytesKey] = new(ConfigType.Int, "The size in bytes at which the partition's active log segment is closed and a new one started."),
        [LogConfig.SegmentMsKey] = new(ConfigType.Long, "The age in milliseconds after which the active segment is closed even if it is not full, so that retention and compaction can act on it."),
        [LogConfig.RetentionMsKey] = new(ConfigType.Long, "How long in milliseconds records are kept before their segment may be deleted under the delete policy; -1 keeps them without a time limit."),
        [LogConfig.RetentionBytesKey] = new(ConfigType.Long, "The largest size in bytes a partition may grow to before its oldest segments are deleted under the delete policy; -1 sets no limit."),
        [LogConfig.CleanupPolicyKey] = new(ConfigType.List, "The retention policy of old segments: delete (by time and size), compact (keep the last record of each key), or both."),
        [LogConfig.DeleteRetentionMsKey] = new(ConfigType.Long, "How long in milliseconds a compacted topic keeps tombstones, so that consumers reading from the start see a deletion."),
        [LogConfig.MinCompactionLagMsKey] = new(ConfigType.Long, "The least time in milliseconds a record stays uncompacted after it is written."),
        [LogConfig.MaxMessageBytesKey] = new(ConfigType.Int, "The largest record batch in bytes, after compression, that the topic accepts."),
        [LogConfig.IndexIntervalBytesKey] = new(ConfigType.Int, "How many bytes of batches are written between two entries of the offset index."),
        [LogConfig.SegmentIndexBytesKey] = new(ConfigType.Int, "The size in bytes of each segment's offset and time indexes; a segment whose index fills is closed."),
        [LogConfig.FlushMessagesKey] = new(ConfigType.Long, "The number of records after which the log is flushed to disk; the default leaves flushing to the operating system and replication."),
        [LogConfig.FlushMsKey] = new(ConfigType.Long, "The time in milliseconds after which the log is flushed to disk; the default leaves flushing to the operating system and replication."),
        [LogConfig.LocalRetentionMsKey] = new(ConfigType.Long, "For a tiered topic, how long in milliseconds segments stay on local disk once copied to remote storage; -2 takes retention.ms."),
        [LogConfig.LocalRetentionBytesKey] = new(ConfigType.Long, "For a tiered topic, how many bytes of copied segments stay on local disk; -2 takes retention.bytes."),
        [LogConfig.RemoteStorageEnableKey] = new(ConfigType.Boolean, "Whether closed segments are copied to remote storage (Azure Blob Storage) and served from there once deleted locally."),
        [LogConfig.MessageTimestampTypeKey] = new(ConfigType.String, "Which timestamp records keep: CreateTime (the producer's) or LogAppendTime (the leader's when it appends)."),
        [LogConfig.CompressionTypeKey] = new(ConfigType.String, "The codec batches are stored with: producer keeps each batch as sent; uncompressed, gzip, snappy, lz4 or zstd recompress on the leader."),
        [OrleansStreamDefaults.MinInsyncReplicasConfig] = new(ConfigType.Int, "The least number of in-sync replicas an acks=all produce needs; with fewer it is refused with NOT_ENOUGH_REPLICAS."),
        [OrleansStreamDefaults.UncleanLeaderElectionEnableConfig] = new(ConfigType.Boolean, "Whether a replica outside the ISR may become leader when no in-sync replica is left, at the cost of losing acknowledged records."),
    }.ToFrozenDictionary(StringComparer.Ordinal);

    public static readonly FrozenDictionary<string, ConfigDefinition> Broker = new Dictionary<string, ConfigDefinition>(StringComparer.Ordinal)
    {
        ["node.id"] = new(ConfigType.Int, "This broker's node id, given by the cluster controller when the silo registers."),
        ["broker.id"] = new(ConfigType.Int, "The same as node.id, under its older name."),
        ["listeners"] = new(ConfigType.String, "The Kafka listeners this broker binds: NAME://host:port, comma-separated (OrleansStream:Listeners)."),
        ["advertised.listeners"] = new(ConfigType.String, "The addresses clients are given for this broker's listeners in Metadata and FindCoordinator."),
        ["listener.security.protocol.map"] = new(ConfigType.String, "The security protocol of each listener name: NAME:PROTOCOL pairs, comma-separated."),
        ["sasl.enabled.mechanisms"] = new(ConfigType.List, "The SASL mechanisms the SASL listeners take."),
        ["sasl.oauthbearer.jwks.endpoint.url"] = new(ConfigType.String, "The identity provider's JWKS (https:, http: or file:) whose keys verify OAUTHBEARER tokens; null when signed tokens are not checked."),
        ["sasl.oauthbearer.jwks.endpoint.refresh.ms"] = new(ConfigType.Long, "The wait in milliseconds between two fetches of an HTTP JWKS."),
        ["sasl.oauthbearer.jwks.endpoint.retry.backoff.ms"] = new(ConfigType.Long, "The first wait in milliseconds before a failed JWKS fetch is tried again; each further wait doubles."),
        ["sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms"] = new(ConfigType.Long, "The longest wait in milliseconds between two tries of a failed JWKS fetch, and the time the tries may take."),
        ["sasl.oauthbearer.expected.audience"] = new(ConfigType.List, "The audiences an OAUTHBEARER token's aud must name one of; null when aud is not checked."),
        ["sasl.oauthbearer.expected.issuer"] = new(ConfigType.String, "The issuer an OAUTHBEARER token's iss must be; null when iss is not checked."),
        ["sasl.oauthbearer.sub.claim.name"] = new(ConfigType.String, "The claim of an OAUTHBEARER token that names its principal."),
        ["sasl.oauthbearer.scope.claim.name"] = new(ConfigType.String, "The claim of an OAUTHBEARER token that holds its scope."),
        ["sasl.oauthbearer.clock.skew.seconds"] = new(ConfigType.Int, "The difference in seconds allowed between the identity provider's clock and the broker's when a token's exp and nbf are checked."),
        ["ssl.client.auth"] = new(ConfigType.String, "Whether TLS listeners ask clients for a certificate: none, requested or required."),
        ["socket.request.max.bytes"] = new(ConfigType.Int, "The largest request in bytes a connection may send; a larger frame closes the connection."),
        ["connections.max.idle.ms"] = new(ConfigType.Long, "How long in milliseconds a connection may send nothing before the broker closes it."),
        ["connections.max.reauth.ms"] = new(ConfigType.Long, "The longest a SASL session lasts before the client must re-authenticate on its connection; 0 for no limit beyond the credential's expiry."),
        ["max.connections.per.ip"] = new(ConfigType.Int, "The most connections one client address may hold; one more is closed."),
        ["max.connections"] = new(ConfigType.Int, "The most connections all listeners together hold; one more waits until another closes."),
        ["max.connection.creation.rate"] = new(ConfigType.Int, "The most new connections per second all listeners together accept; a faster one waits its throttle time."),
        ["max.request.partition.size.limit"] = new(ConfigType.Int, "The most partitions one DescribeTopicPartitions answer holds, whatever larger limit its request asks."),
        ["authorizer.class.name"] = new(ConfigType.String, "The authorizer that enforces ACLs; empty when ACLs are not enforced."),
        ["auto.leader.rebalance.enable"] = new(ConfigType.Boolean, "Whether the controller moves leadership back to each partition's preferred replica when the cluster is out of balance."),
        ["leader.imbalance.check.interval.seconds"] = new(ConfigType.Long, "How often in seconds the controller checks the leaders' balance."),
        ["log.segment.bytes"] = new(ConfigType.Int, "The default segment.bytes of topics that do not set it."),
        ["log.roll.ms"] = new(ConfigType.Long, "The default segment.ms of topics that do not set it."),
        ["log.retention.ms"] = new(ConfigType.Long, "The default retention.ms of topics that do not set it."),
        ["log.retention.bytes"] = new(ConfigType.Long, "The default retention.bytes of topics that do not set it."),
        ["log.local.retention.ms"] = new(ConfigType.Long, "The default local.retention.ms of tiered topics that do not set it."),
        ["log.local.retention.bytes"] = new(ConfigType.Long, "The default local.retention.bytes of tiered topics that do not set it."),
        ["log.cleanup.policy"] = new(ConfigType.List, "The default cleanup.policy of topics that do not set it."),
        ["min.insync.replicas"] = new(ConfigType.Int, "The default min.insync.replicas of topics that do not set it."),
        ["message.max.bytes"] = new(ConfigType.Int, "The default max.message.bytes of topics that do not set it."),
        [LogConfig.CompressionTypeKey] = new(ConfigType.String, "The default compression.type of topics that do not set it."),
        [LogConfig.RemoteStorageEnableKey] = new(ConfigType.Boolean, "The default remote.storage.enable of topics that do not set it."),
    }.ToFrozenDictionary(StringComparer.Ordinal);

    public static readonly FrozenDictionary<string, ConfigDefinition> Group = new Dictionary<string, ConfigDefinition>(StringComparer.Ordinal)
    {
        [Groups.GroupConfigs.ConsumerSessionTimeoutMs] = new(ConfigType.Int, "How long in milliseconds a member of this consumer group may go without a heartbeat before it is removed; within the broker's group.consumer.min/max.session.timeout.ms."),
        [Groups.GroupConfigs.ConsumerHeartbeatIntervalMs] = new(ConfigType.Int, "How often in milliseconds the members of this consumer group are told to heartbeat; within the broker's group.consumer.min/max.heartbeat.interval.ms."),
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>KIP-714's client metrics subscription configs (Kafka's <c>ClientMetricsConfigs</c>).</summary>
    public static readonly FrozenDictionary<string, ConfigDefinition> ClientMetrics = new Dictionary<string, ConfigDefinition>(StringComparer.Ordinal)
    {
        [OrleansStream.Server.ClientMetrics.ClientMetricsSubscription.MetricsConfig] = new(ConfigType.List, "The metric name prefixes the matching clients are asked to push, comma-separated; * for every metric, none for nothing."),
        [OrleansStream.Server.ClientMetrics.ClientMetricsSubscription.IntervalMsConfig] = new(ConfigType.Int, "How often in milliseconds the matching clients push, 100 to 3600000; a client matching several subscriptions pushes at the shortest."),
        [OrleansStream.Server.ClientMetrics.ClientMetricsSubscription.MatchConfig] = new(ConfigType.List, "Which clients the subscription asks, comma-separated selector=regex, each matched whole: client_instance_id, client_id, client_software_name, client_software_version, client_source_address, client_source_port; none for every client."),
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>
    /// <paramref name="config"/> with its type, and its documentation when <paramref name="includeDocumentation"/>;
    /// a name not defined keeps UNKNOWN and no documentation (Kafka's answer for a config its ConfigDef lacks).
    /// </summary>
    public static DescribedConfig Complete(DescribedConfig config, FrozenDictionary<string, ConfigDefinition> definitions, bool includeDocumentation) =>
        definitions.TryGetValue(config.Name, out var definition) || TryGetListenerOverride(config.Name, definitions, out definition)
            ? config with { Type = definition.Type, Documentation = includeDocumentation ? definition.Documentation : null }
            : config;

    /// <summary>
    /// A listener override (<c>listener.name.sasl_ssl.connections.max.reauth.ms</c>, or with a mechanism,
    /// <c>listener.name.sasl_ssl.plain.connections.max.reauth.ms</c>) has its base config's type and documentation, as
    /// Kafka's <c>KafkaConfig.configType</c> finds it through the override's synonym.
    /// </summary>
    private static bool TryGetListenerOverride(string name, FrozenDictionary<string, ConfigDefinition> definitions, out ConfigDefinition definition)
    {
        const string Prefix = "listener.name.";
        definition = default!;
        if (!name.StartsWith(Prefix, StringComparison.Ordinal)) return false;
        var rest = name[Prefix.Length..];
        for (var i = 0; i < 2; i++)
        {
            var dot = rest.IndexOf('.', StringComparison.Ordinal);
            if (dot < 0) return false;
            rest = rest[(dot + 1)..];
            if (definitions.TryGetValue(rest, out definition!)) return true;
        }
        return false;
    }
}
