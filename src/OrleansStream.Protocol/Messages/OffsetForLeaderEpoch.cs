namespace OrleansStream.Protocol.Messages;

public readonly record struct OffsetForLeaderPartition(int Partition, int CurrentLeaderEpoch, int LeaderEpoch);

public sealed record OffsetForLeaderTopic(string Topic, OffsetForLeaderPartition[] Partitions);

/// <summary>
/// OffsetForLeaderEpochRequest v2-4 (v4 flexible; Kafka 4 serves no older one, KIP-896). A consumer sends it after a
/// leader change to check its position against the new leader's log (KIP-320): for each partition the epoch of the
/// last record it consumed, and (v2+) the leader epoch it believes current, which fences the answer as in Fetch. v3
/// adds the sender's replica id (-1 for a consumer, Kafka's <c>CONSUMER_REPLICA_ID</c>; -2 before v3).
/// </summary>
public sealed record OffsetForLeaderEpochRequest(int ReplicaId, OffsetForLeaderTopic[] Topics)
{
    public const int ConsumerReplicaId = -1;
    public const int DebuggingReplicaId = -2;

    public static OffsetForLeaderEpochRequest Read(ref KafkaReader reader, short version)
    {
        var replicaId = version >= 3 ? reader.ReadInt32() : DebuggingReplicaId;
        var flexible = version >= 4;
        var topics = reader.ReadTopics(version, static (ref KafkaReader r, short v) =>
        {
            var partition = r.ReadInt32();
            var current = v >= 2 ? r.ReadInt32() : -1;
            return new OffsetForLeaderPartition(partition, current, r.ReadInt32());
        }, static (name, partitions) => new OffsetForLeaderTopic(name, partitions), flexible);
        if (flexible) reader.SkipTaggedFields();
        return new OffsetForLeaderEpochRequest(replicaId, topics);
    }

    public void Write(KafkaWriter writer, short version)
    {
        if (version >= 3) writer.WriteInt32(ReplicaId);
        writer.WriteTopics(Topics, version, static t => t.Topic, static t => t.Partitions, static (w, p, v) =>
        {
            w.WriteInt32(p.Partition);
            if (v >= 2) w.WriteInt32(p.CurrentLeaderEpoch);
            w.WriteInt32(p.LeaderEpoch);
        }, version >= 4);
        if (version >= 4) writer.WriteEmptyTaggedFields();
    }
}

/// <summary>
/// Kafka's EpochEndOffset: the largest epoch at or below the one asked that the leader's log knows, and the offset at
/// which it ended (the start of the next epoch, or the log end offset for the latest); -1 and -1 when unknown.
/// </summary>
public readonly record struct EpochEndOffset(ErrorCode Error, int Partition, int LeaderEpoch, long EndOffset);

public sealed record OffsetForLeaderTopicResult(string Topic, EpochEndOffset[] Partitions);

/// <summary>OffsetForLeaderEpochResponse v2-4 (v4 flexible).</summary>
public sealed record OffsetForLeaderEpochResponse(OffsetForLeaderTopicResult[] Topics)
{
    public void Write(KafkaWriter writer, short version)
    {
        writer.WriteInt32(0);
        writer.WriteTopics(Topics, version, static t => t.Topic, static t => t.Partitions, static (w, p, _) =>
        {
            w.WriteInt16((short)p.Error);
            w.WriteInt32(p.Partition);
            w.WriteInt32(p.LeaderEpoch);
            w.WriteInt64(p.EndOffset);
        }, version >= 4);
        if (version >= 4) writer.WriteEmptyTaggedFields();
    }

    public static OffsetForLeaderEpochResponse Read(ref KafkaReader reader, short version)
    {
        _ = reader.ReadInt32();
        var flexible = version >= 4;
        var topics = reader.ReadTopics(version, static (ref KafkaReader r, short _) =>
            new EpochEndOffset((ErrorCode)r.ReadInt16(), r.ReadInt32(), r.ReadInt32(), r.ReadInt64()),
            static (name, partitions) => new OffsetForLeaderTopicResult(name, partitions), flexible);
        if (flexible) reader.SkipTaggedFields();
        return new OffsetForLeaderEpochResponse(topics);
    }
}
