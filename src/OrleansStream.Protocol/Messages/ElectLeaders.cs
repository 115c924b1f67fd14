namespace OrleansStream.Protocol.Messages;

/// <summary>
/// ElectLeadersRequest v0-2 (Kafka's API 43, KIP-460; v2 flexible). v0 elects preferred replicas only; v1 adds the
/// election type (0 preferred, 1 unclean). Null topics: every partition of every topic.
/// </summary>
public sealed record ElectLeadersRequest(sbyte ElectionType, TopicPartitions[]? Topics, int TimeoutMs)
{
    public static ElectLeadersRequest Read(ref KafkaReader reader, short version)
    {
        var flexible = version >= 2;
        var type = version >= 1 ? reader.ReadInt8() : (sbyte)0;
        var topics = TopicPartitions.ReadNullableArray(ref reader, flexible);
        var timeoutMs = reader.ReadInt32();
        if (flexible) reader.SkipTaggedFields();
        return new ElectLeadersRequest(type, topics, timeoutMs);
    }

    public void Write(KafkaWriter writer, short version)
    {
        var flexible = version >= 2;
        if (version >= 1) writer.WriteInt8(ElectionType);
        TopicPartitions.WriteNullableArray(writer, Topics, flexible);
        writer.WriteInt32(TimeoutMs);
        if (flexible) writer.WriteEmptyTaggedFields();
    }
}

public readonly record struct ElectLeadersPartitionResult(int Partition, ErrorCode Error, string? ErrorMessage);

public sealed record ElectLeadersTopicResult(string Topic, ElectLeadersPartitionResult[] Partitions);

/// <summary>ElectLeadersResponse v0-2: v1 adds a top-level error code after the throttle time.</summary>
public sealed record ElectLeadersResponse(ErrorCode Error, ElectLeadersTopicResult[] Topics)
{
    public void Write(KafkaWriter writer, short version)
    {
        var flexible = version >= 2;
        writer.WriteInt32(0);
        if (version >= 1) writer.WriteInt16((short)Error);
        writer.WriteTopics(Topics, version, static t => t.Topic, static t => t.Partitions, static (w, p, v) =>
        {
            w.WriteInt32(p.Partition);
            w.WriteInt16((short)p.Error);
            w.WriteErrorMessage(p.ErrorMessage, v >= 2);
        }, flexible);
        if (flexible) writer.WriteEmptyTaggedFields();
    }

    public static ElectLeadersResponse Read(ref KafkaReader reader, short version)
    {
        var flexible = version >= 2;
        _ = reader.ReadInt32();
        var error = version >= 1 ? (ErrorCode)reader.ReadInt16() : ErrorCode.None;
        var topics = reader.ReadTopics(version, static (ref KafkaReader r, short v) =>
            new ElectLeadersPartitionResult(r.ReadInt32(), (ErrorCode)r.ReadInt16(), r.ReadNullableString(v >= 2)),
            static (name, partitions) => new ElectLeadersTopicResult(name, partitions), flexible);
        if (flexible) reader.SkipTaggedFields();
        return new ElectLeadersResponse(error, topics);
    }
}
