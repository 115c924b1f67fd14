namespace OrleansStream.Client;

/// <summary>Consumer settings with Confluent.Kafka's names and Kafka's keys and defaults.</summary>
public class ConsumerConfig : Config
{
    public ConsumerConfig() { }

    public ConsumerConfig(IEnumerable<KeyValuePair<string, string>> config) : base(config) { }

    /// <summary>The consumer group (<c>group.id</c>); only the group features need it, <c>Assign</c> does not.</summary>
    public string? GroupId { get => Get("group.id"); set => Set("group.id", value); }

    /// <summary>Static membership id (<c>group.instance.id</c>).</summary>
    public string? GroupInstanceId { get => Get("group.instance.id"); set => Set("group.instance.id", value); }

    /// <summary>
    /// The group protocol (<c>group.protocol</c>): <see cref="Client.GroupProtocol.Classic"/> (the default) or
    /// <see cref="Client.GroupProtocol.Consumer"/>, Kafka's KIP-848 protocol, where the coordinator assigns the partitions
    /// and <c>partition.assignment.strategy</c>, <c>session.timeout.ms</c> and <c>heartbeat.interval.ms</c> are the broker's.
    /// </summary>
    public GroupProtocol? GroupProtocol
    {
        get => GetEnum<GroupProtocol>("group.protocol", static s => s switch
        {
            "classic" => Client.GroupProtocol.Classic,
            "consumer" => Client.GroupProtocol.Consumer,
            _ => null,
        });
        set => Set("group.protocol", value switch
        {
            null => null,
            Client.GroupProtocol.Consumer => "consumer",
            _ => "classic",
        });
    }

    /// <summary>The coordinator's assignor a <see cref="Client.GroupProtocol.Consumer"/> member asks for (<c>group.remote.assignor</c>: "uniform", "range"; null: the broker's default).</summary>
    public string? GroupRemoteAssignor { get => Get("group.remote.assignor"); set => Set("group.remote.assignor", value); }

    public AutoOffsetReset? AutoOffsetReset
    {
        get => GetEnum<AutoOffsetReset>("auto.offset.reset", static s => s switch
        {
            "latest" or "largest" or "end" => Client.AutoOffsetReset.Latest,
            "earliest" or "smallest" or "beginning" => Client.AutoOffsetReset.Earliest,
            "error" or "none" => Client.AutoOffsetReset.Error,
            _ => null,
        });
        set => Set("auto.offset.reset", value switch
        {
            null => null,
            Client.AutoOffsetReset.Latest => "latest",
            Client.AutoOffsetReset.Earliest => "earliest",
            _ => "error",
        });
    }

    /// <summary>
    /// Which records a consumer sees (<c>isolation.level</c>, default read_committed as in Confluent.Kafka): read_committed
    /// reads below the last stable offset and skips aborted transactions; read_uncommitted reads everything below the high
    /// watermark. Transaction markers are never returned either way.
    /// </summary>
    public IsolationLevel? IsolationLevel
    {
        get => GetEnum<IsolationLevel>("isolation.level", static s => s switch
        {
            "read_committed" => OrleansStream.IsolationLevel.ReadCommitted,
            "read_uncommitted" => OrleansStream.IsolationLevel.ReadUncommitted,
            _ => null,
        });
        set => Set("isolation.level", value switch
        {
            null => null,
            OrleansStream.IsolationLevel.ReadUncommitted => "read_uncommitted",
            _ => "read_committed",
        });
    }

    /// <summary>Report reaching the end of a partition as a <see cref="ConsumeResult{TKey,TValue}.IsPartitionEOF"/> result (<c>enable.partition.eof</c>, default false).</summary>
    public bool? EnablePartitionEof { get => GetBool("enable.partition.eof"); set => SetBool("enable.partition.eof", value); }

    /// <summary>Most bytes one fetch may return across its partitions (<c>fetch.max.bytes</c>, default 52428800).</summary>
    public int? FetchMaxBytes { get => GetInt("fetch.max.bytes"); set => SetInt("fetch.max.bytes", value); }

    /// <summary>Most bytes one fetch returns for one partition (<c>max.partition.fetch.bytes</c>, default 1048576).</summary>
    public int? MaxPartitionFetchBytes { get => GetInt("max.partition.fetch.bytes"); set => SetInt("max.partition.fetch.bytes", value); }

    /// <summary>Bytes a fetch waits for before answering (<c>fetch.min.bytes</c>, default 1).</summary>
    public int? FetchMinBytes { get => GetInt("fetch.min.bytes"); set => SetInt("fetch.min.bytes", value); }

    /// <summary>How long a fetch waits for <see cref="FetchMinBytes"/> (<c>fetch.wait.max.ms</c>, default 500).</summary>
    public int? FetchWaitMaxMs { get => GetInt("fetch.wait.max.ms"); set => SetInt("fetch.wait.max.ms", value); }

    /// <summary>Fetched responses buffered per partition ahead of Consume (<c>queued.max.fetches.per.partition</c>, default 2).</summary>
    public int? QueuedMaxFetchesPerPartition { get => GetInt("queued.max.fetches.per.partition"); set => SetInt("queued.max.fetches.per.partition", value); }

    /// <summary>Let metadata requests create a missing topic (<c>allow.auto.create.topics</c>, default false for consumers, as in Kafka).</summary>
    public bool? AllowAutoCreateTopics { get => GetBool("allow.auto.create.topics"); set => SetBool("allow.auto.create.topics", value); }

    /// <summary>Commit offsets in the background (<c>enable.auto.commit</c>, default true); used with <see cref="GroupId"/>.</summary>
    public bool? EnableAutoCommit { get => GetBool("enable.auto.commit"); set => SetBool("enable.auto.commit", value); }

    /// <summary><c>auto.commit.interval.ms</c>, default 5000.</summary>
    public int? AutoCommitIntervalMs { get => GetInt("auto.commit.interval.ms"); set => SetInt("auto.commit.interval.ms", value); }

    /// <summary>Store the offset of each consumed message for the next commit (<c>enable.auto.offset.store</c>, default true).</summary>
    public bool? EnableAutoOffsetStore { get => GetBool("enable.auto.offset.store"); set => SetBool("enable.auto.offset.store", value); }

    /// <summary><c>session.timeout.ms</c>, default 45000.</summary>
    public int? SessionTimeoutMs { get => GetInt("session.timeout.ms"); set => SetInt("session.timeout.ms", value); }

    /// <summary><c>heartbeat.interval.ms</c>, default 3000.</summary>
    public int? HeartbeatIntervalMs { get => GetInt("heartbeat.interval.ms"); set => SetInt("heartbeat.interval.ms", value); }

    /// <summary><c>max.poll.interval.ms</c>, default 300000.</summary>
    public int? MaxPollIntervalMs { get => GetInt("max.poll.interval.ms"); set => SetInt("max.poll.interval.ms", value); }

    /// <summary>Kafka's default.api.timeout.ms: how long a synchronous Commit keeps retrying a coordinator that is moving (default 60000).</summary>
    public int? DefaultApiTimeoutMs { get => GetInt("default.api.timeout.ms"); set => SetInt("default.api.timeout.ms", value); }

    /// <summary>Assignors by name, in preference order (<c>partition.assignment.strategy</c>, e.g. "range,roundrobin").</summary>
    public string? PartitionAssignmentStrategy { get => Get("partition.assignment.strategy"); set => Set("partition.assignment.strategy", value); }

    internal ConsumerSettings Resolve()
    {
        var s = new ConsumerSettings(
            AutoOffsetReset ?? Client.AutoOffsetReset.Latest,
            EnablePartitionEof ?? false,
            FetchMaxBytes ?? 52428800,
            MaxPartitionFetchBytes ?? 1048576,
            FetchMinBytes ?? 1,
            FetchWaitMaxMs ?? 500,
            QueuedMaxFetchesPerPartition ?? 2,
            AllowAutoCreateTopics ?? false,
            RetryBackoffMs,
            RequestTimeoutMs,
            MetadataMaxAgeMs,
            IsolationLevel ?? OrleansStream.IsolationLevel.ReadCommitted);
        Require(s.FetchMaxBytes >= 1, "fetch.max.bytes", "must be >= 1");
        Require(s.MaxPartitionFetchBytes >= 1, "max.partition.fetch.bytes", "must be >= 1");
        Require(s.FetchMinBytes >= 0, "fetch.min.bytes", "must be >= 0");
        Require(s.FetchWaitMaxMs >= 0, "fetch.wait.max.ms", "must be >= 0");
        Require(s.QueuedMaxFetchesPerPartition >= 1, "queued.max.fetches.per.partition", "must be >= 1");
        Require(s.RetryBackoffMs >= 0, "retry.backoff.ms", "must be >= 0");
        return s;
    }
}

internal sealed record ConsumerSettings(
    AutoOffsetReset AutoOffsetReset,
    bool EnablePartitionEof,
    int FetchMaxBytes,
    int MaxPartitionFetchBytes,
    int FetchMinBytes,
    int FetchWaitMaxMs,
    int QueuedMaxFetchesPerPartition,
    bool AllowAutoCreateTopics,
    int RetryBackoffMs,
    int RequestTimeoutMs,
    int MetadataMaxAgeMs,
    IsolationLevel IsolationLevel = IsolationLevel.ReadCommitted)
{
    /// <summary>One partition's fetch size: the per-partition cap, never above the whole-fetch cap.</summary>
    public int PartitionFetchBytes => Math.Min(MaxPartitionFetchBytes, FetchMaxBytes);
}
