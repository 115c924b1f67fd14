namespace OrleansStream.Protocol.Messages;

/// <summary>Where a DescribeTopicPartitions answer starts (the request's cursor) or stopped (the answer's next cursor).</summary>
public sealed record DescribeTopicPartitionsCursor(string TopicName, int PartitionIndex)
{
    /// <summary>Kafka's nullable struct: one byte, -1 for null (any negative value reads as null), 1 before the struct.</summary>
    public static DescribeTopicPartitionsCursor? ReadNullable(ref KafkaReader reader)
    {
        if (reader.ReadInt8() < 0) return null;
        var cursor = new DescribeTopicPartitionsCursor(reader.ReadString(flexible: true), reader.ReadInt32());
        reader.SkipTaggedFields();
        return cursor;
    }

    public static void WriteNullable(KafkaWriter writer, DescribeTopicPartitionsCursor? cursor)
    {
        if (cursor is null)
        {
            writer.WriteInt8(-1);
            return;
        }
        writer.WriteInt8(1);
        writer.WriteString(cursor.TopicName, flexible: true);
        writer.WriteInt32(cursor.PartitionIndex);
        writer.WriteEmptyTaggedFields();
    }
}

/// <summary>
/// DescribeTopicPartitionsRequest v0 (Kafka's API 75, KIP-966; flexible from v0): the topics to describe (none: every
/// topic), at most <see cref="ResponsePartitionLimit"/> partitions in the answer, starting at <see cref="Cursor"/>.
/// </summary>
public sealed record DescribeTopicPartitionsRequest(IReadOnlyList<string> Topics, int ResponsePartitionLimit = 2000, DescribeTopicPartitionsCursor? Cursor = null)
{
    public static DescribeTopicPartitionsRequest Read(ref KafkaReader reader, short version)
    {
        var count = reader.ReadArrayLength(flexible: true);
        var topics = new List<string>(Math.Max(count, 0));
        for (var i = 0; i < count; i++)
        {
            topics.Add(reader.ReadString(flexible: true));
            reader.SkipTaggedFields();
        }
        var limit = reader.ReadInt32();
        var cursor = DescribeTopicPartitionsCursor.ReadNullable(ref reader);
        reader.SkipTaggedFields();
        return new DescribeTopicPartitionsRequest(topics, limit, cursor);
    }

    public void Write(KafkaWriter writer, short version)
    {
        writer.WriteArrayLength(Topics.Count, flexible: true);
        foreach (var t in Topics)
        {
            writer.WriteString(t, flexible: true);
            writer.WriteEmptyTaggedFields();
        }
        writer.WriteInt32(ResponsePartitionLimit);
        DescribeTopicPartitionsCursor.WriteNullable(writer, Cursor);
        writer.WriteEmptyTaggedFields();
    }
}

/// <summary>
/// DescribeTopicPartitionsResponse v0: each topic as Metadata v12 describes it (error, name, id, internal flag,
/// partitions, authorized operations), each partition with KIP-966's eligible leader replicas and last known ELR
/// after the ISR (empty: no ELR is kept here, as a Kafka cluster without <c>eligible.leader.replicas.version</c>), and
/// the cursor of the first partition the answer left out (null when none was).
/// </summary>
public sealed record DescribeTopicPartitionsResponse(IReadOnlyList<MetadataTopic> Topics, DescribeTopicPartitionsCursor? NextCursor)
{
    public void Write(KafkaWriter writer, short version)
    {
        writer.WriteInt32(0);
        writer.WriteArrayLength(Topics.Count, flexible: true);
        foreach (var t in Topics)
        {
            writer.WriteInt16((short)t.Error);
            writer.WriteNullableString(t.Name, flexible: true);
            writer.WriteUuid(t.TopicId);
            writer.WriteBoolean(t.IsInternal);
            writer.WriteArrayLength(t.Partitions.Count, flexible: true);
            foreach (var p in t.Partitions)
            {
                writer.WriteInt16((short)p.Error);
                writer.WriteInt32(p.PartitionIndex);
                writer.WriteInt32(p.LeaderId);
                writer.WriteInt32(p.LeaderEpoch);
                writer.WriteInt32Array(p.ReplicaNodes, flexible: true);
                writer.WriteInt32Array(p.IsrNodes, flexible: true);
                // EligibleLeaderReplicas and LastKnownElr: empty, as Kafka answers without ELR (never null: the Java admin client reads them as lists).
                writer.WriteArrayLength(0, flexible: true);
                writer.WriteArrayLength(0, flexible: true);
                writer.WriteInt32Array(p.OfflineReplicas, flexible: true);
                writer.WriteEmptyTaggedFields();
            }
            writer.WriteInt32(t.AuthorizedOperations);
            writer.WriteEmptyTaggedFields();
        }
        DescribeTopicPartitionsCursor.WriteNullable(writer, NextCursor);
        writer.WriteEmptyTaggedFields();
    }

    /// <summary>Reads an answer (a client's side, for tests); the ELR fields, which this broker answers empty, are read and dropped.</summary>
    public static DescribeTopicPartitionsResponse Read(ref KafkaReader reader, short version)
    {
        _ = reader.ReadInt32();
        var count = reader.ReadArrayLength(flexible: true);
        var topics = new List<MetadataTopic>(Math.Max(count, 0));
        for (var i = 0; i < count; i++)
        {
            var error = (ErrorCode)reader.ReadInt16();
            var name = reader.ReadNullableString(flexible: true);
            var id = reader.ReadUuid();
            var isInternal = reader.ReadBoolean();
            var partitionCount = reader.ReadArrayLength(flexible: true);
            var partitions = new List<MetadataPartition>(Math.Max(partitionCount, 0));
            for (var j = 0; j < partitionCount; j++)
            {
                var partitionError = (ErrorCode)reader.ReadInt16();
                var index = reader.ReadInt32();
                var leader = reader.ReadInt32();
                var epoch = reader.ReadInt32();
                var replicas = reader.ReadInt32Array(flexible: true);
                var isr = reader.ReadInt32Array(flexible: true);
                _ = reader.ReadInt32Array(flexible: true);
                _ = reader.ReadInt32Array(flexible: true);
                var offline = reader.ReadInt32Array(flexible: true);
                reader.SkipTaggedFields();
                partitions.Add(new MetadataPartition(partitionError, index, leader, epoch, replicas, isr, offline));
            }
            var operations = reader.ReadInt32();
            reader.SkipTaggedFields();
            topics.Add(new MetadataTopic(error, name, isInternal, partitions, id, operations));
        }
        var next = DescribeTopicPartitionsCursor.ReadNullable(ref reader);
        reader.SkipTaggedFields();
        return new DescribeTopicPartitionsResponse(topics, next);
    }
}
