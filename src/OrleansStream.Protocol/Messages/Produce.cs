namespace OrleansStream.Protocol.Messages;

/// <summary>One partition's records in a produce request: the client's record batches, as bytes of the frame (not copied).</summary>
public readonly record struct ProducePartitionData(int Index, ReadOnlyMemory<byte> Records, bool IsNull);

public sealed record ProduceTopicData(string Name, ProducePartitionData[] Partitions);

/// <summary>ProduceRequest v3-8. The records are slices of <c>frame</c>: valid while the frame's buffer is.</summary>
public sealed record ProduceRequest(string? TransactionalId, short Acks, int TimeoutMs, ProduceTopicData[] Topics)
{
    public static ProduceRequest Read(ref KafkaReader reader, short version, ReadOnlyMemory<byte> frame)
    {
        var transactionalId = version >= 3 ? reader.ReadNullableString(flexible: false) : null;
        var acks = reader.ReadInt16();
        var timeout = reader.ReadInt32();
        var topicCount = Math.Max(reader.ReadArrayLength(flexible: false), 0);
        var topics = new ProduceTopicData[topicCount];
        for (var t = 0; t < topicCount; t++)
        {
            var name = reader.ReadString(flexible: false);
            var partitionCount = Math.Max(reader.ReadArrayLength(flexible: false), 0);
            var partitions = new ProducePartitionData[partitionCount];
            for (var p = 0; p < partitionCount; p++)
            {
                var index = reader.ReadInt32();
                var (start, length) = reader.ReadNullableBytesRange(flexible: false);
                partitions[p] = length < 0
                    ? new ProducePartitionData(index, ReadOnlyMemory<byte>.Empty, IsNull: true)
                    : new ProducePartitionData(index, frame.Slice(start, length), IsNull: false);
            }
            topics[t] = new ProduceTopicData(name, partitions);
        }
        return new ProduceRequest(transactionalId, acks, timeout, topics);
    }

    public void Write(KafkaWriter writer, short version)
    {
        if (version >= 3) writer.WriteNullableString(TransactionalId, flexible: false);
        writer.WriteInt16(Acks);
        writer.WriteInt32(TimeoutMs);
        writer.WriteTopics(Topics, version, static t => t.Name, static t => t.Partitions, static (w, p, _) =>
        {
            w.WriteInt32(p.Index);
            if (p.IsNull) w.WriteNullBytes(flexible: false);
            else w.WriteBytes(p.Records.Span, flexible: false);
        });
    }
}

public readonly record struct ProducePartitionResponse(
    int Index, ErrorCode Error, long BaseOffset, long LogAppendTimeMs, long LogStartOffset, string? ErrorMessage);

public sealed record ProduceTopicResponse(string Name, ProducePartitionResponse[] Partitions);

/// <summary>ProduceResponse v3-8 (v8 adds per-batch record errors, which this broker reports as none, and the error message).</summary>
public sealed record ProduceResponse(ProduceTopicResponse[] Topics)
{
    public void Write(KafkaWriter writer, short version)
    {
        writer.WriteTopics(Topics, version, static t => t.Name, static t => t.Partitions, static (w, p, v) =>
        {
            w.WriteInt32(p.Index);
            w.WriteInt16((short)p.Error);
            w.WriteInt64(p.BaseOffset);
            w.WriteInt64(p.LogAppendTimeMs);
            if (v >= 5) w.WriteInt64(p.LogStartOffset);
            if (v >= 8)
            {
                w.WriteArrayLength(0, flexible: false);
                w.WriteErrorMessage(p.ErrorMessage, flexible: false);
            }
        });
        writer.WriteInt32(0);
    }
}
