namespace OrleansStream.Client;

/// <summary>One partition of a group: committed offset, log end (the high watermark), lag and owner.</summary>
/// <param name="CommittedOffset">-1 when the group committed nothing for the partition.</param>
/// <param name="Lag">Log end minus committed offset; -1 when either is unknown.</param>
/// <param name="ConsumerId">The member that owns the partition now, null when none.</param>
public sealed record ConsumerGroupPartitionOffset(
    TopicPartition TopicPartition,
    long CommittedOffset,
    string? Metadata,
    long LogEndOffset,
    long Lag,
    string? ConsumerId,
    Error Error);
