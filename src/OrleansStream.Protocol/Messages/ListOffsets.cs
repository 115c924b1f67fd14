namespace OrleansStream.Protocol.Messages;

public readonly record struct ListOffsetsPartition(int PartitionIndex, int CurrentLeaderEpoch, long Timestamp);

public sealed record ListOffsetsTopic(string Name, ListOffsetsPartition[] Partitions);

/// <summary>ListOffsetsRequest v1-5; a timestamp of -1 asks for the latest offset, -2 for the earliest.</summary>
public sealed record ListOffsetsRequest(int ReplicaId, sbyte IsolationLevel, ListOffsetsTopic[] Topics)
{
    public static ListOffsetsRequest Read(ref KafkaReader reader, short version)
    {
        var replicaId = reader.ReadInt32();
        var isolation = version >= 2 ? reader.ReadInt8() : (sbyte)0;
        var topicCount = Math.Max(reader.ReadArrayLength(flexible: false), 0);
        var topics = new ListOffsetsTopic[topicCount];
        for (var t = 0; t < topicCount; t++)
        {
            var name = reader.ReadString(flexible: false);
            var partitionCount = Math.Max(reader.ReadArrayLength(flexible: false), 0);
            var partitions = new ListOffsetsPartition[partitionCount];
            for (var p = 0; p < partitionCount; p++)
            {
                var index = reader.ReadInt32();
                var epoch = version >= 4 ? reader.ReadInt32() : -1;
                partitions[p] = new ListOffsetsPartition(index, epoch, reader.ReadInt64());
            }
            topics[t] = new ListOffsetsTopic(name, partitions);
        }
        return new ListOffsetsRequest(replicaId, isolation, topics);
    }

    public void Write(KafkaWriter writer, short version)
    {
        writer.WriteInt32(ReplicaId);
        if (version >= 2) writer.WriteInt8(IsolationLevel);
        writer.WriteArrayLength(Topics.Length, flexible: false);
        foreach (var t in Topics)
        {
            writer.WriteString(t.Name, flexible: false);
            writer.WriteArrayLength(t.Partitions.Length, flexible: false);
            foreach (var p in t.Partitions)
            {
                writer.WriteInt32(p.PartitionIndex);
                if (version >= 4) writer.WriteInt32(p.CurrentLeaderEpoch);
                writer.WriteInt64(p.Timestamp);
            }
        }
    }
}

public readonly record struct ListOffsetsPartitionResponse(int PartitionIndex, ErrorCode Error, long Timestamp, long Offset, int LeaderEpoch);

public sealed record ListOffsetsTopicResponse(string Name, ListOffsetsPartitionResponse[] Partitions);

/// <summary>ListOffsetsResponse v1-5.</summary>
public sealed record ListOffsetsResponse(ListOffsetsTopicResponse[] Topics)
{
    public void Write(KafkaWriter writer, short version)
    {
        if (version >= 2) writer.WriteInt32(0);
        writer.WriteArrayLength(Topics.Length, flexible: false);
        foreach (var t in Topics)
        {
            writer.WriteString(t.Name, flexible: false);
            writer.WriteArrayLength(t.Partitions.Length, flexible: false);
            foreach (var p in t.Partitions)
            {
                writer.WriteInt32(p.PartitionIndex);
                writer.WriteInt16((short)p.Error);
                writer.WriteInt64(p.Timestamp);
                writer.WriteInt64(p.Offset);
                if (version >= 4) writer.WriteInt32(p.LeaderEpoch);
            }
        }
    }
}
