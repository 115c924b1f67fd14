namespace OrleansStream.Protocol.Messages;

/// <summary>One directory of an AlterReplicaLogDirs request: its absolute path and the partitions to move into it.</summary>
public sealed record AlterReplicaLogDir(string Path, TopicPartitions[] Topics);

/// <summary>
/// AlterReplicaLogDirsRequest v1-2 (Kafka's API 34; v1 is v0's layout, v2 flexible; Kafka 4 serves no v0, KIP-896):
/// the partitions to move into each of the broker's log directories (kafka-reassign-partitions.sh's <c>log_dirs</c>,
/// the admin clients' <c>alterReplicaLogDirs</c>).
/// </summary>
public sealed record AlterReplicaLogDirsRequest(AlterReplicaLogDir[] Dirs)
{
    public static AlterReplicaLogDirsRequest Read(ref KafkaReader reader, short version)
    {
        var flexible = version >= 2;
        var dirs = new AlterReplicaLogDir[Math.Max(reader.ReadArrayLength(flexible), 0)];
        for (var i = 0; i < dirs.Length; i++)
        {
            var path = reader.ReadString(flexible);
            dirs[i] = new AlterReplicaLogDir(path, TopicPartitions.ReadNullableArray(ref reader, flexible) ?? []);
            if (flexible) reader.SkipTaggedFields();
        }
        if (flexible) reader.SkipTaggedFields();
        return new AlterReplicaLogDirsRequest(dirs);
    }

    public void Write(KafkaWriter writer, short version)
    {
        var flexible = version >= 2;
        writer.WriteArrayLength(Dirs.Length, flexible);
        foreach (var dir in Dirs)
        {
            writer.WriteString(dir.Path, flexible);
            TopicPartitions.WriteNullableArray(writer, dir.Topics, flexible);
            if (flexible) writer.WriteEmptyTaggedFields();
        }
        if (flexible) writer.WriteEmptyTaggedFields();
    }
}

/// <summary>AlterReplicaLogDirsResponse v1-2: the throttle time and an error per partition, by topic.</summary>
public sealed record AlterReplicaLogDirsResponse(IReadOnlyList<PartitionErrors> Results)
{
    public void Write(KafkaWriter writer, short version) => new TxnPartitionErrorsResponse(Results).Write(writer, version >= 2);

    public static AlterReplicaLogDirsResponse Read(ref KafkaReader reader, short version)
    {
        var flexible = version >= 2;
        reader.ReadInt32();
        var results = reader.ReadTopics(version, static (ref KafkaReader r, short _) => (r.ReadInt32(), (ErrorCode)r.ReadInt16()),
            static (name, partitions) => new PartitionErrors(name, partitions), flexible);
        if (flexible) reader.SkipTaggedFields();
        return new AlterReplicaLogDirsResponse(results);
    }
}
