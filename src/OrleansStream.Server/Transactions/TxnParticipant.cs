namespace OrleansStream.Server.Transactions;

/// <summary>
/// What a transaction touched and what gets its marker: a topic partition (AddPartitionsToTxn), or a consumer group
/// (AddOffsetsToTxn, where Kafka adds the group's <c>__consumer_offsets</c> partition; here the group's own grain
/// holds the pending offsets, so the group is the participant).
/// </summary>
public readonly record struct TxnParticipant(TopicPartition Partition, string? GroupId)
{
    public static TxnParticipant Of(TopicPartition partition) => new(partition, null);

    public static TxnParticipant OfGroup(string groupId) => new(default, groupId);

    public bool IsGroup => GroupId is not null;

    public override string ToString() => GroupId is null ? Partition.ToString() : $"group:{GroupId}";
}
