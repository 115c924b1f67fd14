using System.Globalization;

namespace OrleansStream.Storage;

/// <summary>Kafka's <c>cleanup.policy</c>: a list of <c>delete</c> and <c>compact</c>.</summary>
[Flags]
public enum CleanupPolicy
{
    None = 0,
    Delete = 1,
    Compact = 2,
}

/// <summary>Kafka's <c>message.timestamp.type</c>.</summary>
public enum TimestampType
{
    CreateTime = 0,
    LogAppendTime = 1,
}

/// <summary>
/// Kafka's <c>compression.type</c> for a topic (Kafka's BrokerCompressionType): <see cref="Producer"/> keeps each batch
/// as the producer compressed it; any other value makes the leader store every batch with that codec.
/// </summary>
public enum BrokerCompressionType
{
    Producer = 0,
    Uncompressed,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

/// <summary>
/// The per-topic log settings of Kafka's LogConfig, with Kafka's defaults. Parsed from topic configs by
/// <see cref="FromTopicConfig"/> using Kafka's keys verbatim.
/// </summary>
public sealed record LogConfig
{
    public const string SegmentBytesKey = "segment.bytes";
    public const string SegmentMsKey = "segment.ms";
    public const string RetentionMsKey = "retention.ms";
    public const string RetentionBytesKey = "retention.bytes";
    public const string CleanupPolicyKey = "cleanup.policy";
    public const string DeleteRetentionMsKey = "delete.retention.ms";
    public const string MinCompactionLagMsKey = "min.compaction.lag.ms";
    public const string MaxMessageBytesKey = "max.message.bytes";
    public const string IndexIntervalBytesKey = "index.interval.bytes";
    public const string SegmentIndexBytesKey = "segment.index.bytes";
    public const string FlushMessagesKey = "flush.messages";
    public const string FlushMsKey = "flush.ms";
    public const string LocalRetentionMsKey = "local.retention.ms";
    public const string LocalRetentionBytesKey = "local.retention.bytes";
    public const string RemoteStorageEnableKey = "remote.storage.enable";
    public const string MessageTimestampTypeKey = "message.timestamp.type";
    public const string CompressionTypeKey = "compression.type";

    /// <summary>Kafka's smallest <c>segment.bytes</c> (LegacyRecord.RECORD_OVERHEAD_V0).</summary>
    public const int MinSegmentBytes = 14;

    public static LogConfig Default { get; } = new();

    public static IReadOnlySet<string> KnownKeys { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        SegmentBytesKey, SegmentMsKey, RetentionMsKey, RetentionBytesKey, CleanupPolicyKey, DeleteRetentionMsKey,
        MinCompactionLagMsKey, MaxMessageBytesKey, IndexIntervalBytesKey, SegmentIndexBytesKey, FlushMessagesKey,
        FlushMsKey, LocalRetentionMsKey, LocalRetentionBytesKey, RemoteStorageEnableKey, MessageTimestampTypeKey, CompressionTypeKey,
    };

    /// <summary><c>segment.bytes</c>: roll the active segment when it would grow past this.</summary>
    public int SegmentBytes { get; init; } = 1024 * 1024 * 1024;

    /// <summary><c>segment.ms</c>: roll the active segment when its first batch is this old.</summary>
    public long SegmentMs { get; init; } = 7L * 24 * 60 * 60 * 1000;

    /// <summary><c>retention.ms</c>: delete closed segments whose newest timestamp is older; -1 keeps forever.</summary>
    public long RetentionMs { get; init; } = 7L * 24 * 60 * 60 * 1000;

    /// <summary><c>retention.bytes</c>: delete the oldest closed segments while the log is larger; -1 is unlimited.</summary>
    public long RetentionBytes { get; init; } = -1;

    public CleanupPolicy CleanupPolicy { get; init; } = CleanupPolicy.Delete;

    /// <summary><c>delete.retention.ms</c>: how long compaction keeps a tombstone.</summary>
    public long DeleteRetentionMs { get; init; } = 24L * 60 * 60 * 1000;

    public long MinCompactionLagMs { get; init; }

    /// <summary><c>max.message.bytes</c>: the largest record batch accepted (Kafka's 1 MiB + 12-byte log overhead).</summary>
    public int MaxMessageBytes { get; init; } = 1024 * 1024 + 12;

    /// <summary><c>index.interval.bytes</c>: log bytes between two sparse index entries.</summary>
    public int IndexIntervalBytes { get; init; } = 4096;

    /// <summary><c>segment.index.bytes</c>: the largest offset index; a full index rolls the segment.</summary>
    public int SegmentIndexBytes { get; init; } = 10 * 1024 * 1024;

    /// <summary><c>flush.messages</c>: fsync after this many records; Kafka's default leaves it to the OS.</summary>
    public long FlushMessages { get; init; } = long.MaxValue;

    /// <summary><c>flush.ms</c>: fsync when the last one is this old; Kafka's default leaves it to the OS.</summary>
    public long FlushMs { get; init; } = long.MaxValue;

    /// <summary><c>local.retention.ms</c>: -2 means the same as <c>retention.ms</c>.</summary>
    public long LocalRetentionMs { get; init; } = -2;

    /// <summary><c>local.retention.bytes</c>: -2 means the same as <c>retention.bytes</c>.</summary>
    public long LocalRetentionBytes { get; init; } = -2;

    public bool RemoteStorageEnable { get; init; }

    public TimestampType MessageTimestampType { get; init; } = TimestampType.CreateTime;

    /// <summary><c>compression.type</c>: <c>producer</c> keeps the client's codec, any other the leader recompresses to.</summary>
    public BrokerCompressionType CompressionType { get; init; } = BrokerCompressionType.Producer;

    /// <summary>The codec every stored batch must have, or null when the producer's is kept.</summary>
    public Records.CompressionType? TargetCompression => CompressionType switch
    {
        BrokerCompressionType.Uncompressed => Records.CompressionType.None,
        BrokerCompressionType.Gzip => Records.CompressionType.Gzip,
        BrokerCompressionType.Snappy => Records.CompressionType.Snappy,
        BrokerCompressionType.Lz4 => Records.CompressionType.Lz4,
        BrokerCompressionType.Zstd => Records.CompressionType.Zstd,
        _ => null,
    };

    /// <summary>Local retention after resolving Kafka's -2 ("same as retention.ms").</summary>
    public long EffectiveLocalRetentionMs => LocalRetentionMs == -2 ? RetentionMs : LocalRetentionMs;

    /// <summary>Local retention after resolving Kafka's -2 ("same as retention.bytes").</summary>
    public long EffectiveLocalRetentionBytes => LocalRetentionBytes == -2 ? RetentionBytes : LocalRetentionBytes;

    /// <summary>
    /// Parses Kafka topic configs; keys not given keep Kafka's defaults.
    /// Throws <see cref="OrleansStreamException"/> with <see cref="ErrorCode.InvalidConfig"/> on an unknown key or a bad value.
    /// </summary>
    public static LogConfig FromTopicConfig(IReadOnlyDictionary<string, string>? configs)
    {
        var config = Default;
        if (configs is null || configs.Count == 0)
            return config;
        foreach (var (key, value) in configs)
        {
            config = key switch
            {
                SegmentBytesKey => config with { SegmentBytes = ParseInt(key, value) },
                SegmentMsKey => config with { SegmentMs = ParseLong(key, value) },
                RetentionMsKey => config with { RetentionMs = ParseLong(key, value) },
                RetentionBytesKey => config with { RetentionBytes = ParseLong(key, value) },
                CleanupPolicyKey => config with { CleanupPolicy = ParseCleanupPolicy(value) },
                DeleteRetentionMsKey => config with { DeleteRetentionMs = ParseLong(key, value) },
                MinCompactionLagMsKey => config with { MinCompactionLagMs = ParseLong(key, value) },
                MaxMessageBytesKey => config with { MaxMessageBytes = ParseInt(key, value) },
                IndexIntervalBytesKey => config with { IndexIntervalBytes = ParseInt(key, value) },
                SegmentIndexBytesKey => config with { SegmentIndexBytes = ParseInt(key, value) },
                FlushMessagesKey => config with { FlushMessages = ParseLong(key, value) },
                FlushMsKey => config with { FlushMs = ParseLong(key, value) },
                LocalRetentionMsKey => config with { LocalRetentionMs = ParseLong(key, value) },
                LocalRetentionBytesKey => config with { LocalRetentionBytes = ParseLong(key, value) },
                RemoteStorageEnableKey => config with { RemoteStorageEnable = ParseBool(key, value) },
                MessageTimestampTypeKey => config with { MessageTimestampType = ParseTimestampType(value) },
                CompressionTypeKey => config with { CompressionType = ParseCompressionType(value) },
                _ => throw Invalid($"Unknown topic config '{key}'."),
            };
        }
        config.Validate();
        return config;
    }

    /// <summary>This config as Kafka topic configs (every key, Kafka's spelling of each value).</summary>
    public IReadOnlyDictionary<string, string> ToTopicConfig() => new Dictionary<string, string>(StringComparer.Ordinal)
    {
        [SegmentBytesKey] = SegmentBytes.ToString(CultureInfo.InvariantCulture),
        [SegmentMsKey] = SegmentMs.ToString(CultureInfo.InvariantCulture),
        [RetentionMsKey] = RetentionMs.ToString(CultureInfo.InvariantCulture),
        [RetentionBytesKey] = RetentionBytes.ToString(CultureInfo.InvariantCulture),
        [CleanupPolicyKey] = FormatCleanupPolicy(CleanupPolicy),
        [DeleteRetentionMsKey] = DeleteRetentionMs.ToString(CultureInfo.InvariantCulture),
        [MinCompactionLagMsKey] = MinCompactionLagMs.ToString(CultureInfo.InvariantCulture),
        [MaxMessageBytesKey] = MaxMessageBytes.ToString(CultureInfo.InvariantCulture),
        [IndexIntervalBytesKey] = IndexIntervalBytes.ToString(CultureInfo.InvariantCulture),
        [SegmentIndexBytesKey] = SegmentIndexBytes.ToString(CultureInfo.InvariantCulture),
        [FlushMessagesKey] = FlushMessages.ToString(CultureInfo.InvariantCulture),
        [FlushMsKey] = FlushMs.ToString(CultureInfo.InvariantCulture),
        [LocalRetentionMsKey] = LocalRetentionMs.ToString(CultureInfo.InvariantCulture),
        [LocalRetentionBytesKey] = LocalRetentionBytes.ToString(CultureInfo.InvariantCulture),
        [RemoteStorageEnableKey] = RemoteStorageEnable ? "true" : "false",
        [MessageTimestampTypeKey] = MessageTimestampType.ToString(),
        [CompressionTypeKey] = CompressionType.ToString().ToLowerInvariant(),
    };

    /// <summary>Checks every value against Kafka's validators; throws <see cref="ErrorCode.InvalidConfig"/>.</summary>
    public void Validate()
    {
        Require(SegmentBytes >= MinSegmentBytes, SegmentBytesKey, SegmentBytes, $"at least {MinSegmentBytes}");
        Require(SegmentMs >= 1, SegmentMsKey, SegmentMs, "at least 1");
        Require(RetentionMs >= -1, RetentionMsKey, RetentionMs, "at least -1");
        Require((CleanupPolicy & ~(CleanupPolicy.Delete | CleanupPolicy.Compact)) == 0 && CleanupPolicy != CleanupPolicy.None,
            CleanupPolicyKey, CleanupPolicy, "delete, compact or both");
        Require(DeleteRetentionMs >= 0, DeleteRetentionMsKey, DeleteRetentionMs, "at least 0");
        Require(MinCompactionLagMs >= 0, MinCompactionLagMsKey, MinCompactionLagMs, "at least 0");
        Require(MaxMessageBytes >= 0, MaxMessageBytesKey, MaxMessageBytes, "at least 0");
        Require(IndexIntervalBytes >= 0, IndexIntervalBytesKey, IndexIntervalBytes, "at least 0");
        Require(SegmentIndexBytes >= 12, SegmentIndexBytesKey, SegmentIndexBytes, "at least 12 (one time index entry)");
        Require(FlushMessages >= 1, FlushMessagesKey, FlushMessages, "at least 1");
        Require(FlushMs >= 0, FlushMsKey, FlushMs, "at least 0");
        Require(LocalRetentionMs >= -2, LocalRetentionMsKey, LocalRetentionMs, "at least -2");
        Require(LocalRetentionBytes >= -2, LocalRetentionBytesKey, LocalRetentionBytes, "at least -2");
        Require(Enum.IsDefined(MessageTimestampType), MessageTimestampTypeKey, MessageTimestampType, "CreateTime or LogAppendTime");
        // Kafka's rule for tiered topics: local retention cannot exceed total retention (-1 is unlimited).
        if (RemoteStorageEnable && RetentionMs != -1)
            Require(EffectiveLocalRetentionMs != -1 && EffectiveLocalRetentionMs <= RetentionMs, LocalRetentionMsKey, LocalRetentionMs,
                $"at most retention.ms ({RetentionMs})");
        if (RemoteStorageEnable && RetentionBytes != -1)
            Require(EffectiveLocalRetentionBytes != -1 && EffectiveLocalRetentionBytes <= RetentionBytes, LocalRetentionBytesKey,
                LocalRetentionBytes, $"at most retention.bytes ({RetentionBytes})");
    }

    private static void Require(bool ok, string key, object value, string expected)
    {
        if (!ok)
            throw Invalid($"Invalid value {value} for configuration {key}: must be {expected}.");
    }

    private static OrleansStreamException Invalid(string message) => new(ErrorCode.InvalidConfig, message);

    private static int ParseInt(string key, string value) =>
        int.TryParse(value.AsSpan().Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var result)
            ? result
            : throw Invalid($"Invalid value '{value}' for configuration {key}: expected a 32-bit integer.");

    private static long ParseLong(string key, string value) =>
        long.TryParse(value.AsSpan().Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var result)
            ? result
            : throw Invalid($"Invalid value '{value}' for configuration {key}: expected a 64-bit integer.");

    private static bool ParseBool(string key, string value) =>
        bool.TryParse(value.AsSpan().Trim(), out var result)
            ? result
            : throw Invalid($"Invalid value '{value}' for configuration {key}: expected true or false.");

    private static TimestampType ParseTimestampType(string value) => value.Trim() switch
    {
        "CreateTime" => TimestampType.CreateTime,
        "LogAppendTime" => TimestampType.LogAppendTime,
        _ => throw Invalid($"Invalid value '{value}' for configuration {MessageTimestampTypeKey}: expected CreateTime or LogAppendTime."),
    };

    private static BrokerCompressionType ParseCompressionType(string value) => value.Trim() switch
    {
        "producer" => BrokerCompressionType.Producer,
        "uncompressed" => BrokerCompressionType.Uncompressed,
        "gzip" => BrokerCompressionType.Gzip,
        "snappy" => BrokerCompressionType.Snappy,
        "lz4" => BrokerCompressionType.Lz4,
        "zstd" => BrokerCompressionType.Zstd,
        _ => throw Invalid($"Invalid value '{value}' for configuration {CompressionTypeKey}: String must be one of: uncompressed, zstd, lz4, snappy, gzip, producer"),
    };

    private static CleanupPolicy ParseCleanupPolicy(string value)
    {
        var policy = CleanupPolicy.None;
        foreach (var range in value.AsSpan().Split(','))
        {
            var item = value.AsSpan(range).Trim();
            if (item.SequenceEqual("delete"))
                policy |= CleanupPolicy.Delete;
            else if (item.SequenceEqual("compact"))
                policy |= CleanupPolicy.Compact;
            else
                throw Invalid($"Invalid value '{value}' for configuration {CleanupPolicyKey}: expected a list of delete and compact.");
        }
        return policy;
    }

    private static string FormatCleanupPolicy(CleanupPolicy policy) => policy switch
    {
        CleanupPolicy.Delete => "delete",
        CleanupPolicy.Compact => "compact",
        _ => "compact,delete",
    };
}
