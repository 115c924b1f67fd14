using Microsoft.Extensions.Options;

namespace OrleansStream.Server;

/// <summary>
/// A broker's settings, bound from the <c>OrleansStream</c> configuration section. Kafka's broker keys map to
/// properties of the same meaning (<c>auto.create.topics.enable</c> → <see cref="AutoCreateTopicsEnable"/>, ...).
/// </summary>
public sealed class BrokerOptions
{
    /// <summary>
    /// The broker's stable identity. Replicas are assigned to it, so a restarted silo with the same id and data
    /// directory serves its partitions again. Empty: the silo's name.
    /// </summary>
    public string? BrokerId { get; set; }

    /// <summary>Where partition logs live, one folder per partition: <c>{DataDirectory}/{topic}-{partition}</c>.</summary>
    public string DataDirectory { get; set; } = "data";

    /// <summary>
    /// Where the file grain storage keeps controller and group state. Empty: <c>{DataDirectory}/grain-state</c>.
    /// Silos of one cluster must share it (or configure another grain storage under
    /// <see cref="OrleansStreamDefaults.GrainStorageName"/>), because the controller may activate on any silo. One that
    /// activates on a store without state while brokers hold the cluster's data (their <c>meta.properties</c>) serves
    /// nothing and says so (InconsistentClusterId, the silo's <c>/ready</c>).
    /// </summary>
    public string? GrainStateDirectory { get; set; }

    /// <summary>
    /// Kafka's <c>listeners</c>: where this broker accepts Kafka clients, comma-separated <c>NAME://host:port</c>
    /// (<c>PLAINTEXT://127.0.0.1:9092</c>; an empty host or <c>0.0.0.0</c> binds every interface). Empty: no Kafka
    /// listener. A listener's name is its security protocol (<c>PLAINTEXT</c>, <c>SSL</c>, <c>SASL_PLAINTEXT</c>,
    /// <c>SASL_SSL</c>) unless <see cref="ListenerSecurityProtocolMap"/> maps it.
    /// </summary>
    public string? Listeners { get; set; }

    /// <summary>
    /// Kafka's <c>listener.security.protocol.map</c>: <c>NAME:PROTOCOL</c> pairs, comma-separated
    /// (<c>CLIENT:SASL_SSL,INTERNAL:PLAINTEXT</c>). Empty: each security protocol's name maps to itself. SSL and
    /// SASL_SSL listeners present the certificate of <c>OrleansStream:Tls</c>; SASL listeners check the users of
    /// <c>OrleansStream:Sasl</c>.
    /// </summary>
    public string? ListenerSecurityProtocolMap { get; set; }

    /// <summary>
    /// Kafka's <c>ssl.client.auth</c> on the SSL and SASL_SSL listeners: whether clients must present a certificate
    /// issued by an authority of <c>OrleansStream:Tls:CaPath</c> (and on its thumbprint list, when it has one).
    /// </summary>
    public Security.SslClientAuth SslClientAuth { get; set; } = Security.SslClientAuth.None;

    /// <summary>
    /// Kafka's <c>advertised.listeners</c>: the addresses Metadata gives clients for this broker, by listener name.
    /// Empty: <see cref="Listeners"/>, with an empty or wildcard host replaced by the machine's host name.
    /// </summary>
    public string? AdvertisedListeners { get; set; }

    /// <summary>Kafka's <c>socket.request.max.bytes</c>: a larger request frame closes its connection before it is read.</summary>
    public int SocketRequestMaxBytes { get; set; } = 104_857_600;

    /// <summary>Kafka's <c>connections.max.idle.ms</c>: a Kafka connection that sends no request for this long is closed.</summary>
    public long ConnectionsMaxIdleMs { get; set; } = 600_000;

    /// <summary>
    /// Kafka's <c>connections.max.reauth.ms</c> (KIP-368): a SASL session's lifetime, sent to the client in
    /// SaslAuthenticate v1+ so that it re-authenticates on the same connection in time; a request after it closes the
    /// connection. 0 (Kafka's default): no limit beyond the credential's own expiry.
    /// </summary>
    public long ConnectionsMaxReauthMs { get; set; }

    /// <summary>
    /// Kafka's listener- and mechanism-prefixed <c>connections.max.reauth.ms</c>
    /// (<c>listener.name.sasl_ssl.oauthbearer.connections.max.reauth.ms</c>): by listener name
    /// (<c>SASL_SSL</c>) or listener name and mechanism joined by a dot (<c>SASL_SSL.OAUTHBEARER</c>), case aside. A
    /// session's limit is its listener's and mechanism's, else its listener's, else <see cref="ConnectionsMaxReauthMs"/>.
    /// </summary>
    public Dictionary<string, long> ListenerConnectionsMaxReauthMs { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The <c>connections.max.reauth.ms</c> of a SASL session on <paramref name="listener"/> with <paramref name="mechanism"/>, as Kafka's <c>SaslChannelBuilder</c> resolves it.</summary>
    public long ConnectionsMaxReauthMsFor(string listener, string mechanism) =>
        ListenerConnectionsMaxReauthMs.TryGetValue(listener + "." + mechanism, out var byMechanism) ? byMechanism
        : ListenerConnectionsMaxReauthMs.TryGetValue(listener, out var byListener) ? byListener
        : ConnectionsMaxReauthMs;

    /// <summary>Kafka's <c>max.connections.per.ip</c>: a Kafka connection beyond this many from one address is closed at once.</summary>
    public int MaxConnectionsPerIp { get; set; } = int.MaxValue;

    /// <summary>
    /// Kafka's <c>max.connection.creation.rate</c> (KIP-612): new Kafka connections per second on this broker, all
    /// listeners together; those over it wait unread, one at a time, until the rate allows them (Kafka's acceptor blocks).
    /// </summary>
    public int MaxConnectionCreationRate { get; set; } = int.MaxValue;

    /// <summary>
    /// Kafka's <c>max.connections</c>: Kafka connections open on this broker at once, all listeners together; a new one
    /// beyond it waits unread until another closes (Kafka's acceptor blocks).
    /// </summary>
    public int MaxConnections { get; set; } = int.MaxValue;

    /// <summary>
    /// Kafka's <c>max.request.partition.size.limit</c>: the most partitions one DescribeTopicPartitions answer holds,
    /// whatever larger limit the request asks (KIP-966).
    /// </summary>
    public int MaxRequestPartitionSizeLimit { get; set; } = 2000;

    /// <summary>Kafka's <c>auto.create.topics.enable</c>.</summary>
    public bool AutoCreateTopicsEnable { get; set; } = true;

    /// <summary>Kafka's <c>num.partitions</c>: partitions of a topic created without a count.</summary>
    public int NumPartitions { get; set; } = 1;

    /// <summary>Kafka's <c>default.replication.factor</c>.</summary>
    public short DefaultReplicationFactor { get; set; } = 1;

    /// <summary>Kafka's <c>log.retention.check.interval.ms</c>: how often each replica applies retention and compaction.</summary>
    public long LogRetentionCheckIntervalMs { get; set; } = 300_000;

    /// <summary>
    /// Kafka's <c>producer.id.expiration.ms</c>: a partition forgets an idempotent producer (its sequence numbers) after
    /// this long without a write from it, unless it has a transaction open.
    /// </summary>
    public long ProducerIdExpirationMs { get; set; } = 86_400_000;

    /// <summary>Kafka's <c>producer.id.expiration.check.interval.ms</c>: how often each replica removes expired producers.</summary>
    public long ProducerIdExpirationCheckIntervalMs { get; set; } = 600_000;

    /// <summary>Kafka's <c>replica.lag.time.max.ms</c>: a follower that has not caught up for this long leaves the ISR.</summary>
    public long ReplicaLagTimeMaxMs { get; set; } = 30_000;

    /// <summary>Kafka's <c>replica.fetch.max.bytes</c>: bytes a follower asks for per fetch.</summary>
    public int ReplicaFetchMaxBytes { get; set; } = 1_048_576;

    /// <summary>Kafka's <c>replica.fetch.wait.max.ms</c>: how long a follower's fetch waits for new data.</summary>
    public int ReplicaFetchWaitMaxMs { get; set; } = 500;

    /// <summary>
    /// Bytes appended to a partition's active segment between two starts of their write-out to the disk (Linux
    /// <c>sync_file_range</c>, off the grain's turn; RocksDB's <c>bytes_per_sync</c>), so the kernel never writes
    /// tens of seconds of appends in one lump; 0 leaves it all to the kernel, as Kafka does. Makes nothing durable:
    /// <c>flush.messages</c> and <c>flush.ms</c> do that.
    /// </summary>
    public long SegmentWritebackBytes { get; set; } = 1_048_576;

    /// <summary>
    /// How long a broker must be out of membership before the controller moves its replicas to other live brokers
    /// (which rebuild them from the leader). Long enough that a rolling restart, or a container that is replaced,
    /// keeps its replicas; 0 moves them as soon as membership declares the broker dead. Kafka itself never moves
    /// replicas on its own; this plays the role of Cruise Control's self-healing delay.
    /// </summary>
    public long ReplicaReassignmentDelayMs { get; set; } = 300_000;

    /// <summary>
    /// Kafka's <c>auto.leader.rebalance.enable</c>: the controller moves leadership back to each partition's preferred
    /// replica (the first of its assignment) once it is live and in the ISR again, every
    /// <see cref="LeaderImbalanceCheckIntervalSeconds"/>, so leaders spread over the brokers again after a restart.
    /// As in KRaft, any partition led by another replica counts (no <c>leader.imbalance.per.broker.percentage</c>).
    /// </summary>
    public bool AutoLeaderRebalanceEnable { get; set; } = true;

    /// <summary>Kafka's <c>leader.imbalance.check.interval.seconds</c>.</summary>
    public long LeaderImbalanceCheckIntervalSeconds { get; set; } = 300;

    /// <summary>
    /// How long the controller waits for a replica to answer a LeaderAndIsr before it sends the partition's state again
    /// (Kafka's controller resends to a broker whose channel failed). The controller never waits for these answers
    /// before it answers other calls; this paces the resends, and also bounds how long an admin change waits for its
    /// pushes, a topic deletion for its replicas and a new controller activation for the live brokers' descriptions.
    /// </summary>
    public int LeaderAndIsrRetryMs { get; set; } = 2_000;

    /// <summary>Kafka's <c>delete.topic.enable</c>.</summary>
    public bool DeleteTopicEnable { get; set; } = true;

    /// <summary>
    /// Kafka's <c>remote.log.storage.system.enable</c>: whether this cluster tiers at all. When false, no topic may
    /// set <c>remote.storage.enable=true</c> (creation fails with InvalidConfig, as in Kafka).
    /// </summary>
    public bool RemoteLogStorageSystemEnable { get; set; } = true;

    /// <summary>
    /// Broker-wide topic defaults, <c>OrleansStream:TopicDefaults</c>, under Kafka's broker keys
    /// (<c>log.segment.bytes</c>, <c>log.roll.ms</c>, <c>log.retention.ms</c>, <c>log.retention.bytes</c>,
    /// <c>log.local.retention.ms</c>, <c>log.local.retention.bytes</c>, <c>log.cleanup.policy</c>,
    /// <c>min.insync.replicas</c>, <c>message.max.bytes</c>) plus <c>remote.storage.enable</c>. A topic's own config
    /// overrides them. Dots may be written as underscores (environment variables).
    /// </summary>
    public Dictionary<string, string> TopicDefaults { get; set; } = new(StringComparer.Ordinal);

    private IReadOnlyDictionary<string, string>? _topicConfigDefaults;

    /// <summary><see cref="TopicDefaults"/> as topic keys (<c>segment.bytes</c>, ...), the base every topic's overrides apply to.</summary>
    internal IReadOnlyDictionary<string, string> TopicConfigDefaults =>
        _topicConfigDefaults ??= Controller.TopicDefaults.ToTopicConfigs(TopicDefaults);

    internal string ResolvedDataDirectory => Path.GetFullPath(DataDirectory);

    internal string ResolvedGrainStateDirectory =>
        Path.GetFullPath(string.IsNullOrWhiteSpace(GrainStateDirectory) ? Path.Combine(DataDirectory, "grain-state") : GrainStateDirectory);
}

/// <summary>Rejects settings a broker cannot run with, naming the key and the bad value.</summary>
public sealed class BrokerOptionsValidator : IValidateOptions<BrokerOptions>
{
    public ValidateOptionsResult Validate(string? name, BrokerOptions options)
    {
        List<string>? failures = null;
        void Fail(string message) => (failures ??= []).Add(message);

        if (string.IsNullOrWhiteSpace(options.DataDirectory))
            Fail("OrleansStream:DataDirectory must name a directory.");
        else if (options.DataDirectory.IndexOfAny(Path.GetInvalidPathChars()) >= 0)
            Fail($"OrleansStream:DataDirectory '{options.DataDirectory}' is not a valid path.");
        if (options.BrokerId is { Length: > 0 } id && (id.Length > 249 || id.Contains('/')))
            Fail($"OrleansStream:BrokerId '{id}' must be at most 249 characters without '/'.");
        if (options.NumPartitions < 1)
            Fail($"OrleansStream:NumPartitions must be at least 1, not {options.NumPartitions}.");
        if (options.DefaultReplicationFactor < 1)
            Fail($"OrleansStream:DefaultReplicationFactor must be at least 1, not {options.DefaultReplicationFactor}.");
        if (options.LogRetentionCheckIntervalMs < 1)
            Fail($"OrleansStream:LogRetentionCheckIntervalMs must be positive, not {options.LogRetentionCheckIntervalMs}.");
        if (options.ProducerIdExpirationMs < 1)
            Fail($"OrleansStream:ProducerIdExpirationMs must be positive, not {options.ProducerIdExpirationMs}.");
        if (options.ProducerIdExpirationCheckIntervalMs < 1)
            Fail($"OrleansStream:ProducerIdExpirationCheckIntervalMs must be positive, not {options.ProducerIdExpirationCheckIntervalMs}.");
        if (options.ReplicaLagTimeMaxMs < 1)
            Fail($"OrleansStream:ReplicaLagTimeMaxMs must be positive, not {options.ReplicaLagTimeMaxMs}.");
        if (options.ReplicaFetchMaxBytes < 1)
            Fail($"OrleansStream:ReplicaFetchMaxBytes must be positive, not {options.ReplicaFetchMaxBytes}.");
        if (options.ReplicaReassignmentDelayMs < 0)
            Fail($"OrleansStream:ReplicaReassignmentDelayMs must not be negative, not {options.ReplicaReassignmentDelayMs}.");
        if (options.LeaderImbalanceCheckIntervalSeconds < 1)
            Fail($"OrleansStream:LeaderImbalanceCheckIntervalSeconds must be positive, not {options.LeaderImbalanceCheckIntervalSeconds}.");
        if (options.LeaderAndIsrRetryMs < 1)
            Fail($"OrleansStream:LeaderAndIsrRetryMs must be positive, not {options.LeaderAndIsrRetryMs}.");
        if (options.SegmentWritebackBytes < 0)
            Fail($"OrleansStream:SegmentWritebackBytes must not be negative, not {options.SegmentWritebackBytes}.");
        if (options.ReplicaFetchWaitMaxMs < 0)
            Fail($"OrleansStream:ReplicaFetchWaitMaxMs must not be negative, not {options.ReplicaFetchWaitMaxMs}.");
        if (options.SocketRequestMaxBytes < 1)
            Fail($"OrleansStream:SocketRequestMaxBytes must be positive, not {options.SocketRequestMaxBytes}.");
        if (options.ConnectionsMaxIdleMs < 1)
            Fail($"OrleansStream:ConnectionsMaxIdleMs must be positive, not {options.ConnectionsMaxIdleMs}.");
        if (options.ConnectionsMaxReauthMs < 0)
            Fail($"OrleansStream:ConnectionsMaxReauthMs must not be negative, not {options.ConnectionsMaxReauthMs}.");
        foreach (var failure in Kafka.Security.SaslReauthentication.Validate(options))
            Fail(failure);
        if (options.MaxConnectionsPerIp < 0)
            Fail($"OrleansStream:MaxConnectionsPerIp must not be negative, not {options.MaxConnectionsPerIp}.");
        if (options.MaxConnections < 1)
            Fail($"OrleansStream:MaxConnections must be positive, not {options.MaxConnections}.");
        if (options.MaxConnectionCreationRate < 1)
            Fail($"OrleansStream:MaxConnectionCreationRate must be positive, not {options.MaxConnectionCreationRate}.");
        if (options.MaxRequestPartitionSizeLimit < 1)
            Fail($"OrleansStream:MaxRequestPartitionSizeLimit must be at least 1, not {options.MaxRequestPartitionSizeLimit}.");
        foreach (var failure in Kafka.KafkaListeners.Validate(options))
            Fail(failure);
        foreach (var failure in Controller.TopicDefaults.Validate(options.TopicDefaults, options.RemoteLogStorageSystemEnable))
            Fail(failure);
        return failures is null ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
