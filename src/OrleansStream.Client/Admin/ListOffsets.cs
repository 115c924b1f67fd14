namespace OrleansStream.Client.Admin;

/// <summary>What ListOffsets asks of a partition, as Confluent.Kafka's OffsetSpec.</summary>
public abstract class OffsetSpec
{
    private OffsetSpec()
    {
    }

    /// <summary>Kafka's ListOffsets timestamp for this spec.</summary>
    internal abstract long Timestamp { get; }

    public static OffsetSpec Earliest() => EarliestSpec.Instance;

    public static OffsetSpec Latest() => LatestSpec.Instance;

    /// <summary>KIP-734: the offset of the record with the largest timestamp (the first of them), and that timestamp.</summary>
    public static OffsetSpec MaxTimestamp() => MaxTimestampSpec.Instance;

    /// <summary>The first offset whose timestamp is at or after <paramref name="timestamp"/> (ms since the epoch).</summary>
    public static OffsetSpec ForTimestamp(long timestamp) => new TimestampSpec(timestamp);

    public sealed class EarliestSpec : OffsetSpec
    {
        internal static readonly EarliestSpec Instance = new();

        internal override long Timestamp => ListOffsetsTimestamp.Earliest;
    }

    public sealed class LatestSpec : OffsetSpec
    {
        internal static readonly LatestSpec Instance = new();

        internal override long Timestamp => ListOffsetsTimestamp.Latest;
    }

    public sealed class MaxTimestampSpec : OffsetSpec
    {
        internal static readonly MaxTimestampSpec Instance = new();

        internal override long Timestamp => ListOffsetsTimestamp.MaxTimestamp;
    }

    public sealed class TimestampSpec : OffsetSpec
    {
        public TimestampSpec(long timestamp)
        {
            // Kafka's negative timestamps are the specs above; a negative time would be read as one of them.
            ArgumentOutOfRangeException.ThrowIfNegative(timestamp);
            Timestamp = timestamp;
        }

        internal override long Timestamp { get; }

        /// <summary>The time asked for, in ms since the epoch.</summary>
        public long Time => Timestamp;
    }
}

public sealed class TopicPartitionOffsetSpec
{
    public TopicPartition TopicPartition { get; set; }

    public OffsetSpec OffsetSpec { get; set; } = OffsetSpec.Latest();
}

public sealed class ListOffsetsOptions : AdminOptions
{
    /// <summary><see cref="IsolationLevel.ReadCommitted"/>: latest is the last stable offset (below open transactions).</summary>
    public IsolationLevel IsolationLevel { get; set; } = IsolationLevel.ReadUncommitted;
}

/// <summary>
/// One partition's answer: its offset (-1 when no record has a timestamp at or after the one asked) and that record's
/// timestamp (-1 for earliest and latest), or its error.
/// </summary>
public sealed record ListOffsetsResultInfo(TopicPartitionOffsetError TopicPartitionOffsetError, long Timestamp);

/// <summary>
/// A partition, an offset and the error of the request about them, as Confluent.Kafka's TopicPartitionOffsetError;
/// <paramref name="LeaderEpoch"/> is a committed offset's leader epoch, null when unknown.
/// </summary>
public sealed record TopicPartitionOffsetError(TopicPartition TopicPartition, long Offset, Error Error, int? LeaderEpoch = null)
{
    public string Topic => TopicPartition.Topic;

    public int Partition => TopicPartition.Partition;

    public TopicPartitionOffset TopicPartitionOffset => new(TopicPartition, Offset);
}

public sealed record ListOffsetsResult(List<ListOffsetsResultInfo> ResultInfos);

/// <summary>Every partition's outcome; <see cref="Error"/> is the first partition's error, as Confluent.Kafka reports it.</summary>
public sealed record ListOffsetsReport(List<ListOffsetsResultInfo> ResultInfos, Error Error);

/// <summary>A partition's ListOffsets failed: every partition's outcome is in <see cref="Result"/>.</summary>
public sealed class ListOffsetsException(ListOffsetsReport result)
    : KafkaException(AdminReports.FirstError(result.ResultInfos,
        static i => ((string?)i.TopicPartitionOffsetError.TopicPartition.ToString(), i.TopicPartitionOffsetError.Error), "list offsets of"))
{
    public ListOffsetsReport Result { get; } = result;
}
