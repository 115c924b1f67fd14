namespace OrleansStream.Protocol.Messages;

public readonly record struct DeleteRecordsPartition(int PartitionIndex, long Offset);

public sealed record DeleteRecordsTopic(string Name, DeleteRecordsPartition[] Partitions);

/// <summary>DeleteRecords v0-2 (v2 flexible): each partition's new log start offset (-1: its high watermark).</summary>
public sealed record DeleteRecordsRequest(DeleteRecordsTopic[] Topics, int TimeoutMs)
{
    public static DeleteRecordsRequest Read(ref KafkaReader reader, short version)
    {
        var flexible = version >= 2;
        var topics = reader.ReadTopics(version, static (ref KafkaReader r, short v) => new DeleteRecordsPartition(r.ReadInt32(), r.ReadInt64()),
            static (name, partitions) => new DeleteRecordsTopic(name, partitions), flexible);
        var timeoutMs = reader.ReadInt32();
        if (flexible) reader.SkipTaggedFields();
        return new DeleteRecordsRequest(topics, timeoutMs);
    }

    public void Write(KafkaWriter writer, short version)
    {
        writer.WriteTopics(Topics, version, static t => t.Name, static t => t.Partitions, static (w, p, v) =>
        {
            w.WriteInt32(p.PartitionIndex);
            w.WriteInt64(p.Offset);
        }, version >= 2);
        writer.WriteInt32(TimeoutMs);
        if (version >= 2) writer.WriteEmptyTaggedFields();
    }
}

public readonly record struct DeleteRecordsPartitionResult(int PartitionIndex, long LowWatermark, ErrorCode Error);

public sealed record DeleteRecordsTopicResult(string Name, DeleteRecordsPartitionResult[] Partitions);

/// <summary>DeleteRecordsResponse v0-2 (v2 flexible).</summary>
public sealed record DeleteRecordsResponse(DeleteRecordsTopicResult[] Topics)
{
    public void Write(KafkaWriter writer, short version)
    {
        writer.WriteInt32(0);
        writer.WriteTopics(Topics, version, static t => t.Name, static t => t.Partitions, static (w, p, v) =>
        {
            w.WriteInt32(p.PartitionIndex);
            w.WriteInt64(p.LowWatermark);
            w.WriteInt16((short)p.Error);
        }, version >= 2);
        if (version >= 2) writer.WriteEmptyTaggedFields();
    }
}
