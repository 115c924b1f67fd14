namespace OrleansStream.Protocol.Messages;

/// <summary>
/// DescribeLogDirsRequest v1-4 (Kafka's API 35; v2 flexible; v3 and v4 change only the response; Kafka 4 serves no
/// v0, KIP-896). Null topics: every partition the broker holds.
/// </summary>
public sealed record DescribeLogDirsRequest(TopicPartitions[]? Topics)
{
    public static DescribeLogDirsRequest Read(ref KafkaReader reader, short version)
    {
        var topics = TopicPartitions.ReadNullableArray(ref reader, version >= 2);
        if (version >= 2) reader.SkipTaggedFields();
        return new DescribeLogDirsRequest(topics);
    }

    public void Write(KafkaWriter writer, short version)
    {
        TopicPartitions.WriteNullableArray(writer, Topics, version >= 2);
        if (version >= 2) writer.WriteEmptyTaggedFields();
    }
}

public readonly record struct LogDirPartition(int Partition, long Size, long OffsetLag, bool IsFutureKey);

public sealed record LogDirTopic(string Name, LogDirPartition[] Partitions);

/// <summary>One log directory: its absolute path, the partitions in it, and (v4) its volume's total and usable bytes (-1 unknown).</summary>
public sealed record LogDirResult(ErrorCode Error, string LogDir, LogDirTopic[] Topics, long TotalBytes, long UsableBytes);

/// <summary>DescribeLogDirsResponse v1-4: v3 adds a top-level error code, v4 each directory's volume sizes.</summary>
public sealed record DescribeLogDirsResponse(ErrorCode Error, LogDirResult[] Results)
{
    public void Write(KafkaWriter writer, short version)
    {
        var flexible = version >= 2;
        writer.WriteInt32(0);
        if (version >= 3) writer.WriteInt16((short)Error);
        writer.WriteArrayLength(Results.Length, flexible);
        foreach (var dir in Results)
        {
            writer.WriteInt16((short)dir.Error);
            writer.WriteString(dir.LogDir, flexible);
            writer.WriteTopics(dir.Topics, version, static t => t.Name, static t => t.Partitions, static (w, p, _) =>
            {
                w.WriteInt32(p.Partition);
                w.WriteInt64(p.Size);
                w.WriteInt64(p.OffsetLag);
                w.WriteBoolean(p.IsFutureKey);
            }, flexible);
            if (version >= 4)
            {
                writer.WriteInt64(dir.TotalBytes);
                writer.WriteInt64(dir.UsableBytes);
            }
            if (flexible) writer.WriteEmptyTaggedFields();
        }
        if (flexible) writer.WriteEmptyTaggedFields();
    }

    public static DescribeLogDirsResponse Read(ref KafkaReader reader, short version)
    {
        var flexible = version >= 2;
        _ = reader.ReadInt32();
        var error = version >= 3 ? (ErrorCode)reader.ReadInt16() : ErrorCode.None;
        var results = new LogDirResult[Math.Max(reader.ReadArrayLength(flexible), 0)];
        for (var i = 0; i < results.Length; i++)
        {
            var dirError = (ErrorCode)reader.ReadInt16();
            var logDir = reader.ReadString(flexible);
            var topics = reader.ReadTopics(version, static (ref KafkaReader r, short _) =>
                new LogDirPartition(r.ReadInt32(), r.ReadInt64(), r.ReadInt64(), r.ReadBoolean()),
                static (name, partitions) => new LogDirTopic(name, partitions), flexible);
            var total = version >= 4 ? reader.ReadInt64() : -1;
            var usable = version >= 4 ? reader.ReadInt64() : -1;
            if (flexible) reader.SkipTaggedFields();
            results[i] = new LogDirResult(dirError, logDir, topics, total, usable);
        }
        if (flexible) reader.SkipTaggedFields();
        return new DescribeLogDirsResponse(error, results);
    }
}
