namespace OrleansStream.Protocol.Messages;

public readonly record struct ListOffsetsPartition(int PartitionIndex, int CurrentLeaderEpoch, long Timestamp);

public sealed record ListOffsetsTopic(string Name, ListOffsetsPartition[] Partitions);

/// <summary>
/// ListOffsetsRequest v1-10 (v6 flexible); a timestamp of -1 asks for the latest offset, -2 for the earliest, -3 (v7,
/// KIP-734) for the record with the largest timestamp, -4 (v8, KIP-405) for the local log start, -5 (v9, KIP-1005) for
/// the highest tiered offset. v10 (KIP-1075) adds <paramref name="TimeoutMs"/>, how long a lookup in the tier may take.
/// </summary>
public sealed record ListOffsetsRequest(int ReplicaId, sbyte IsolationLevel, ListOffsetsTopic[] Topics, int TimeoutMs = 0)
{
    /// <summary>
    /// Kafka's <c>timestampMinSupportedVersion</c>: the first version that may ask a negative (special) timestamp, or
    /// -1 for a negative timestamp Kafka does not know.
    /// </summary>
    public static short MinVersionFor(long timestamp) => timestamp switch
    {
        >= 0 or -1 or -2 => 0,
        -3 => 7,
        -4 => 8,
        -5 => 9,
        _ => -1,
    };

    public static ListOffsetsRequest Read(ref KafkaReader reader, short version)
    {
        var replicaId = reader.ReadInt32();
        var isolation = version >= 2 ? reader.ReadInt8() : (sbyte)0;
        var flexible = version >= 6;
        var topics = reader.ReadTopics(version, static (ref KafkaReader r, short v) =>
        {
            var index = r.ReadInt32();
            var epoch = v >= 4 ? r.ReadInt32() : -1;
            return new ListOffsetsPartition(index, epoch, r.ReadInt64());
        }, static (name, partitions) => new ListOffsetsTopic(name, partitions), flexible);
        var timeoutMs = version >= 10 ? reader.ReadInt32() : 0;
        if (flexible) reader.SkipTaggedFields();
        return new ListOffsetsRequest(replicaId, isolation, topics, timeoutMs);
    }

    public void Write(KafkaWriter writer, short version)
    {
        writer.WriteInt32(ReplicaId);
        if (version >= 2) writer.WriteInt8(IsolationLevel);
        writer.WriteTopics(Topics, version, static t => t.Name, static t => t.Partitions, static (w, p, v) =>
        {
            w.WriteInt32(p.PartitionIndex);
            if (v >= 4) w.WriteInt32(p.CurrentLeaderEpoch);
            w.WriteInt64(p.Timestamp);
        }, version >= 6);
        if (version >= 10) writer.WriteInt32(TimeoutMs);
        if (version >= 6) writer.WriteEmptyTaggedFields();
    }
}

public readonly record struct ListOffsetsPartitionResponse(int PartitionIndex, ErrorCode Error, long Timestamp, long Offset, int LeaderEpoch);

public sealed record ListOffsetsTopicResponse(string Name, ListOffsetsPartitionResponse[] Partitions);

/// <summary>ListOffsetsResponse v1-10 (v6 flexible; v7-10 lay out as v6).</summary>
public sealed record ListOffsetsResponse(ListOffsetsTopicResponse[] Topics)
{
    public void Write(KafkaWriter writer, short version)
    {
        if (version >= 2) writer.WriteInt32(0);
        writer.WriteTopics(Topics, version, static t => t.Name, static t => t.Partitions, static (w, p, v) =>
        {
            w.WriteInt32(p.PartitionIndex);
            w.WriteInt16((short)p.Error);
            w.WriteInt64(p.Timestamp);
            w.WriteInt64(p.Offset);
            if (v >= 4) w.WriteInt32(p.LeaderEpoch);
        }, version >= 6);
        if (version >= 6) writer.WriteEmptyTaggedFields();
    }
}
