namespace OrleansStream.Protocol.Messages;

/// <summary>One partition's records in a produce request: the client's record batches, as bytes of the frame (not copied).</summary>
public readonly record struct ProducePartitionData(int Index, ReadOnlyMemory<byte> Records, bool IsNull);

public sealed record ProduceTopicData(string Name, ProducePartitionData[] Partitions);

/// <summary>
/// ProduceRequest v3-12 (v9+ flexible). v10-12 add no field: v11 (KIP-890) tells the broker that the producer takes
/// TransactionAbortable (120); v12 that a transactional batch adds its partition to the transaction itself (transactions
/// v2, KIP-890 part 2: no AddPartitionsToTxn first). The records are slices of <c>frame</c>: valid while the frame's buffer is.
/// </summary>
public sealed record ProduceRequest(string? TransactionalId, short Acks, int TimeoutMs, ProduceTopicData[] Topics)
{
    public const short FirstFlexibleVersion = 9;

    public static ProduceRequest Read(ref KafkaReader reader, short version, ReadOnlyMemory<byte> frame)
    {
        var flexible = version >= FirstFlexibleVersion;
        var transactionalId = version >= 3 ? reader.ReadNullableString(flexible) : null;
        var acks = reader.ReadInt16();
        var timeout = reader.ReadInt32();
        var topicCount = Math.Max(reader.ReadArrayLength(flexible), 0);
        var topics = new ProduceTopicData[topicCount];
        for (var t = 0; t < topicCount; t++)
        {
            var name = reader.ReadString(flexible);
            var partitionCount = Math.Max(reader.ReadArrayLength(flexible), 0);
            var partitions = new ProducePartitionData[partitionCount];
            for (var p = 0; p < partitionCount; p++)
            {
                var index = reader.ReadInt32();
                var (start, length) = reader.ReadNullableBytesRange(flexible);
                partitions[p] = length < 0
                    ? new ProducePartitionData(index, ReadOnlyMemory<byte>.Empty, IsNull: true)
                    : new ProducePartitionData(index, frame.Slice(start, length), IsNull: false);
                if (flexible) reader.SkipTaggedFields();
            }
            if (flexible) reader.SkipTaggedFields();
            topics[t] = new ProduceTopicData(name, partitions);
        }
        if (flexible) reader.SkipTaggedFields();
        return new ProduceRequest(transactionalId, acks, timeout, topics);
    }

    public void Write(KafkaWriter writer, short version)
    {
        var flexible = version >= FirstFlexibleVersion;
        if (version >= 3) writer.WriteNullableString(TransactionalId, flexible);
        writer.WriteInt16(Acks);
        writer.WriteInt32(TimeoutMs);
        writer.WriteTopics(Topics, version, static t => t.Name, static t => t.Partitions, static (w, p, v) =>
        {
            w.WriteInt32(p.Index);
            if (p.IsNull) w.WriteNullBytes(v >= FirstFlexibleVersion);
            else w.WriteBytes(p.Records.Span, v >= FirstFlexibleVersion);
        }, flexible);
        if (flexible) writer.WriteEmptyTaggedFields();
    }
}

/// <summary>One partition's answer; from v10 (KIP-951) the partition's current leader after NotLeaderOrFollower or FencedLeaderEpoch (-1 for none).</summary>
public readonly record struct ProducePartitionResponse(
    int Index, ErrorCode Error, long BaseOffset, long LogAppendTimeMs, long LogStartOffset, string? ErrorMessage,
    int CurrentLeaderId = -1, int CurrentLeaderEpoch = -1);

public sealed record ProduceTopicResponse(string Name, ProducePartitionResponse[] Partitions);

/// <summary>
/// ProduceResponse v3-12 (v8 adds per-batch record errors, which this broker reports as none, and the error message; v9
/// is flexible; v10 adds, tagged, each moved partition's current leader and the endpoints of those leaders, KIP-951;
/// v11 and v12 are v10's layout, a partition's error code may be TransactionAbortable, KIP-890).
/// </summary>
public sealed record ProduceResponse(ProduceTopicResponse[] Topics, IReadOnlyList<MetadataBroker>? NodeEndpoints = null, int ThrottleTimeMs = 0)
{
    public void Write(KafkaWriter writer, short version)
    {
        var flexible = version >= ProduceRequest.FirstFlexibleVersion;
        writer.WriteArrayLength(Topics.Length, flexible);
        foreach (var t in Topics)
        {
            writer.WriteString(t.Name, flexible);
            writer.WriteArrayLength(t.Partitions.Length, flexible);
            foreach (var p in t.Partitions)
            {
                writer.WriteInt32(p.Index);
                writer.WriteInt16((short)p.Error);
                writer.WriteInt64(p.BaseOffset);
                writer.WriteInt64(p.LogAppendTimeMs);
                if (version >= 5) writer.WriteInt64(p.LogStartOffset);
                if (version >= 8)
                {
                    writer.WriteArrayLength(0, flexible);
                    writer.WriteErrorMessage(p.ErrorMessage, flexible);
                }
                if (!flexible) continue;
                if (version >= 10 && (p.CurrentLeaderId >= 0 || p.CurrentLeaderEpoch >= 0))
                {
                    writer.WriteUnsignedVarint(1);
                    LeaderDiscoveryFields.WriteCurrentLeader(writer, 0, p.CurrentLeaderId, p.CurrentLeaderEpoch);
                }
                else writer.WriteEmptyTaggedFields();
            }
            if (flexible) writer.WriteEmptyTaggedFields();
        }
        writer.WriteInt32(ThrottleTimeMs);
        if (!flexible) return;
        if (version >= 10 && NodeEndpoints is { Count: > 0 } nodes) LeaderDiscoveryFields.Write(writer, nodes);
        else writer.WriteEmptyTaggedFields();
    }

    /// <summary>Reads an answer, as a client does: for tests and tools.</summary>
    public static ProduceResponse Read(ref KafkaReader reader, short version)
    {
        var flexible = version >= ProduceRequest.FirstFlexibleVersion;
        var topics = new ProduceTopicResponse[Math.Max(reader.ReadArrayLength(flexible), 0)];
        for (var t = 0; t < topics.Length; t++)
        {
            var name = reader.ReadString(flexible);
            var partitions = new ProducePartitionResponse[Math.Max(reader.ReadArrayLength(flexible), 0)];
            for (var i = 0; i < partitions.Length; i++)
            {
                var p = new ProducePartitionResponse(reader.ReadInt32(), (ErrorCode)reader.ReadInt16(), reader.ReadInt64(), reader.ReadInt64(),
                    version >= 5 ? reader.ReadInt64() : -1, null);
                if (version >= 8)
                {
                    for (var e = reader.ReadArrayLength(flexible); e > 0; e--)
                    {
                        reader.ReadInt32();
                        reader.ReadNullableString(flexible);
                        if (flexible) reader.SkipTaggedFields();
                    }
                    p = p with { ErrorMessage = reader.ReadNullableString(flexible) };
                }
                if (flexible)
                {
                    for (var tags = reader.ReadUnsignedVarint(); tags > 0; tags--)
                    {
                        var tag = reader.ReadUnsignedVarint();
                        var size = (int)reader.ReadUnsignedVarint();
                        if (tag != 0)
                        {
                            reader.Skip(size);
                            continue;
                        }
                        p = p with { CurrentLeaderId = reader.ReadInt32(), CurrentLeaderEpoch = reader.ReadInt32() };
                        reader.SkipTaggedFields();
                    }
                }
                partitions[i] = p;
            }
            if (flexible) reader.SkipTaggedFields();
            topics[t] = new ProduceTopicResponse(name, partitions);
        }
        var throttleTimeMs = reader.ReadInt32();
        var nodes = flexible ? LeaderDiscoveryFields.Read(ref reader) : null;
        return new ProduceResponse(topics, nodes, throttleTimeMs);
    }
}

/// <summary>
/// KIP-951's tagged fields of Produce v10+ and Fetch v16+ answers: a moved partition's CurrentLeader
/// (LeaderIdAndEpoch) and the answer's NodeEndpoints (top-level tag 0).
/// </summary>
public static class LeaderDiscoveryFields
{
    // A LeaderIdAndEpoch: id, epoch, no tags.
    private const int LeaderIdAndEpochSize = 4 + 4 + 1;

    /// <summary>Writes a CurrentLeader tagged field (its tag, size and value) among a partition's tagged fields.</summary>
    public static void WriteCurrentLeader(KafkaWriter writer, uint tag, int leaderId, int leaderEpoch)
    {
        writer.WriteUnsignedVarint(tag);
        writer.WriteUnsignedVarint(LeaderIdAndEpochSize);
        writer.WriteInt32(leaderId);
        writer.WriteInt32(leaderEpoch);
        writer.WriteEmptyTaggedFields();
    }

    /// <summary>Writes the answer's tagged fields: this one only.</summary>
    public static void Write(KafkaWriter writer, IReadOnlyList<MetadataBroker> nodes)
    {
        using var field = new KafkaWriter(256);
        field.WriteArrayLength(nodes.Count, flexible: true);
        foreach (var n in nodes)
        {
            field.WriteInt32(n.NodeId);
            field.WriteString(n.Host, flexible: true);
            field.WriteInt32(n.Port);
            field.WriteNullableString(n.Rack, flexible: true);
            field.WriteEmptyTaggedFields();
        }
        writer.WriteUnsignedVarint(1);
        writer.WriteUnsignedVarint(0);
        writer.WriteUnsignedVarint((uint)field.Length);
        field.WrittenSpan.CopyTo(writer.GetSpan(field.Length));
        writer.Advance(field.Length);
    }

    /// <summary>Reads the answer's tagged fields: the node endpoints, null when absent.</summary>
    public static List<MetadataBroker>? Read(ref KafkaReader reader)
    {
        List<MetadataBroker>? nodes = null;
        for (var tags = reader.ReadUnsignedVarint(); tags > 0; tags--)
        {
            var tag = reader.ReadUnsignedVarint();
            var size = (int)reader.ReadUnsignedVarint();
            if (tag != 0)
            {
                reader.Skip(size);
                continue;
            }
            var count = reader.ReadArrayLength(true);
            nodes = new List<MetadataBroker>(Math.Max(count, 0));
            for (var n = 0; n < count; n++)
            {
                nodes.Add(new MetadataBroker(reader.ReadInt32(), reader.ReadString(true), reader.ReadInt32(), reader.ReadNullableString(true)));
                reader.SkipTaggedFields();
            }
        }
        return nodes;
    }
}
