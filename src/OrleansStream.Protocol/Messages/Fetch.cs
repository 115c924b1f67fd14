namespace OrleansStream.Protocol.Messages;

/// <summary>One partition of a fetch; <paramref name="LastFetchedEpoch"/> (v12+, -1 for none) is the epoch of the last batch the client read.</summary>
public readonly record struct FetchPartition(int Partition, int CurrentLeaderEpoch, long FetchOffset, long LogStartOffset, int PartitionMaxBytes, int LastFetchedEpoch = -1);

/// <summary>A topic of a fetch: by name before v13, by id from v13 (KIP-516; <see cref="Topic"/> is then empty until resolved).</summary>
public sealed record FetchTopic(string Topic, FetchPartition[] Partitions, Guid TopicId = default);

/// <summary>
/// FetchRequest v4-17. Fetch sessions (KIP-227, v7+) are read but not kept: every answer is a full one with session
/// id 0, which tells the client that no session exists, so it keeps sending full requests (and, from v13, no
/// forgotten topics). v12 is flexible and adds each partition's last fetched epoch; v13 names topics by id; v15 moves
/// the replica id into a tagged field a consumer does not send (this listener serves clients: replicas fetch through
/// their grains); v17 (KIP-853) adds each partition's replica directory id, tagged (tag 0 of the partition), which a
/// consumer does not send either. The tagged cluster id (v12+), replica state (v15+) and replica directory id (v17+)
/// are skipped, and written as absent.
/// </summary>
public sealed record FetchRequest(
    int ReplicaId, int MaxWaitMs, int MinBytes, int MaxBytes, sbyte IsolationLevel, int SessionId, int SessionEpoch,
    FetchTopic[] Topics, string? RackId)
{
    public const short FirstFlexibleVersion = 12;

    /// <summary>The first version that names topics by id.</summary>
    public const short TopicIdsVersion = 13;

    public static FetchRequest Read(ref KafkaReader reader, short version)
    {
        var flexible = version >= FirstFlexibleVersion;
        var replicaId = version <= 14 ? reader.ReadInt32() : -1;
        var maxWait = reader.ReadInt32();
        var minBytes = reader.ReadInt32();
        var maxBytes = version >= 3 ? reader.ReadInt32() : int.MaxValue;
        var isolation = version >= 4 ? reader.ReadInt8() : (sbyte)0;
        int sessionId = 0, sessionEpoch = -1;
        if (version >= 7)
        {
            sessionId = reader.ReadInt32();
            sessionEpoch = reader.ReadInt32();
        }
        var topics = new FetchTopic[Math.Max(reader.ReadArrayLength(flexible), 0)];
        for (var t = 0; t < topics.Length; t++)
        {
            var id = version >= TopicIdsVersion ? reader.ReadUuid() : Guid.Empty;
            var name = version >= TopicIdsVersion ? "" : reader.ReadString(flexible);
            var partitions = new FetchPartition[Math.Max(reader.ReadArrayLength(flexible), 0)];
            for (var i = 0; i < partitions.Length; i++)
            {
                var index = reader.ReadInt32();
                var epoch = version >= 9 ? reader.ReadInt32() : -1;
                var offset = reader.ReadInt64();
                var lastFetchedEpoch = version >= 12 ? reader.ReadInt32() : -1;
                var logStart = version >= 5 ? reader.ReadInt64() : -1;
                partitions[i] = new FetchPartition(index, epoch, offset, logStart, reader.ReadInt32(), lastFetchedEpoch);
                if (flexible) reader.SkipTaggedFields();
            }
            if (flexible) reader.SkipTaggedFields();
            topics[t] = new FetchTopic(name, partitions, id);
        }
        if (version >= 7)
        {
            var forgotten = Math.Max(reader.ReadArrayLength(flexible), 0);
            for (var i = 0; i < forgotten; i++)
            {
                if (version >= TopicIdsVersion) reader.ReadUuid();
                else reader.ReadString(flexible);
                reader.ReadInt32Array(flexible);
                if (flexible) reader.SkipTaggedFields();
            }
        }
        var rack = version >= 11 ? reader.ReadString(flexible) : null;
        if (flexible) reader.SkipTaggedFields();
        return new FetchRequest(replicaId, maxWait, minBytes, maxBytes, isolation, sessionId, sessionEpoch, topics, rack);
    }

    public void Write(KafkaWriter writer, short version)
    {
        var flexible = version >= FirstFlexibleVersion;
        if (version <= 14) writer.WriteInt32(ReplicaId);
        writer.WriteInt32(MaxWaitMs);
        writer.WriteInt32(MinBytes);
        if (version >= 3) writer.WriteInt32(MaxBytes);
        if (version >= 4) writer.WriteInt8(IsolationLevel);
        if (version >= 7)
        {
            writer.WriteInt32(SessionId);
            writer.WriteInt32(SessionEpoch);
        }
        writer.WriteArrayLength(Topics.Length, flexible);
        foreach (var t in Topics)
        {
            if (version >= TopicIdsVersion) writer.WriteUuid(t.TopicId);
            else writer.WriteString(t.Topic, flexible);
            writer.WriteArrayLength(t.Partitions.Length, flexible);
            foreach (var p in t.Partitions)
            {
                writer.WriteInt32(p.Partition);
                if (version >= 9) writer.WriteInt32(p.CurrentLeaderEpoch);
                writer.WriteInt64(p.FetchOffset);
                if (version >= 12) writer.WriteInt32(p.LastFetchedEpoch);
                if (version >= 5) writer.WriteInt64(p.LogStartOffset);
                writer.WriteInt32(p.PartitionMaxBytes);
                if (flexible) writer.WriteEmptyTaggedFields();
            }
            if (flexible) writer.WriteEmptyTaggedFields();
        }
        if (version >= 7) writer.WriteArrayLength(0, flexible);
        if (version >= 11) writer.WriteString(RackId ?? "", flexible);
        if (flexible) writer.WriteEmptyTaggedFields();
    }
}

public readonly record struct FetchAbortedTransaction(long ProducerId, long FirstOffset);

/// <summary>
/// One partition's answer: the stored record batches exactly as the log holds them. From v12, tagged: where the
/// client's last fetched epoch ended in the leader's log when the two diverged (<paramref name="DivergingEpoch"/>,
/// <paramref name="DivergingEndOffset"/>; -1 for none), and the partition's current leader after NotLeaderOrFollower
/// or FencedLeaderEpoch (KIP-951; -1 for none).
/// </summary>
public readonly record struct FetchPartitionResponse(
    int PartitionIndex, ErrorCode Error, long HighWatermark, long LastStableOffset, long LogStartOffset,
    IReadOnlyList<FetchAbortedTransaction>? AbortedTransactions, ReadOnlyMemory<byte> Records,
    int DivergingEpoch = -1, long DivergingEndOffset = -1, int CurrentLeaderId = -1, int CurrentLeaderEpoch = -1);

/// <summary>A topic of the answer, by name before v13 and by id from v13.</summary>
public sealed record FetchTopicResponse(string Topic, FetchPartitionResponse[] Partitions, Guid TopicId = default);

/// <summary>
/// FetchResponse v4-17. Large record sets are written by reference (<see cref="KafkaWriter.WriteBytesByReference"/>),
/// not copied. v16 (KIP-951) adds the endpoints of the leaders named in the partitions' current-leader fields; v17 is
/// v16's layout (KIP-853 changes the request only).
/// </summary>
public sealed record FetchResponse(ErrorCode Error, FetchTopicResponse[] Topics, IReadOnlyList<MetadataBroker>? NodeEndpoints = null, int ThrottleTimeMs = 0)
{
    // A tagged EpochEndOffset: epoch, end offset, no tags.
    private const int EpochEndOffsetSize = 4 + 8 + 1;

    public void Write(KafkaWriter writer, short version)
    {
        var flexible = version >= FetchRequest.FirstFlexibleVersion;
        writer.WriteInt32(ThrottleTimeMs);
        if (version >= 7)
        {
            writer.WriteInt16((short)Error);
            writer.WriteInt32(0);
        }
        writer.WriteArrayLength(Topics.Length, flexible);
        foreach (var t in Topics)
        {
            if (version >= FetchRequest.TopicIdsVersion) writer.WriteUuid(t.TopicId);
            else writer.WriteString(t.Topic, flexible);
            writer.WriteArrayLength(t.Partitions.Length, flexible);
            foreach (var p in t.Partitions)
            {
                writer.WriteInt32(p.PartitionIndex);
                writer.WriteInt16((short)p.Error);
                writer.WriteInt64(p.HighWatermark);
                writer.WriteInt64(p.LastStableOffset);
                if (version >= 5) writer.WriteInt64(p.LogStartOffset);
                if (p.AbortedTransactions is null) writer.WriteArrayLength(-1, flexible);
                else
                {
                    writer.WriteArrayLength(p.AbortedTransactions.Count, flexible);
                    foreach (var a in p.AbortedTransactions)
                    {
                        writer.WriteInt64(a.ProducerId);
                        writer.WriteInt64(a.FirstOffset);
                        if (flexible) writer.WriteEmptyTaggedFields();
                    }
                }
                if (version >= 11) writer.WriteInt32(-1);
                writer.WriteBytesByReference(p.Records, flexible);
                if (flexible) WritePartitionTags(writer, p);
            }
            if (flexible) writer.WriteEmptyTaggedFields();
        }
        if (flexible)
        {
            if (version >= 16 && NodeEndpoints is { Count: > 0 } nodes) LeaderDiscoveryFields.Write(writer, nodes);
            else writer.WriteEmptyTaggedFields();
        }
    }

    private static void WritePartitionTags(KafkaWriter writer, in FetchPartitionResponse p)
    {
        var diverging = p.DivergingEpoch >= 0 || p.DivergingEndOffset >= 0;
        var leader = p.CurrentLeaderId >= 0 || p.CurrentLeaderEpoch >= 0;
        writer.WriteUnsignedVarint((uint)((diverging ? 1 : 0) + (leader ? 1 : 0)));
        if (diverging)
        {
            writer.WriteUnsignedVarint(0);
            writer.WriteUnsignedVarint(EpochEndOffsetSize);
            writer.WriteInt32(p.DivergingEpoch);
            writer.WriteInt64(p.DivergingEndOffset);
            writer.WriteEmptyTaggedFields();
        }
        if (leader) LeaderDiscoveryFields.WriteCurrentLeader(writer, 1, p.CurrentLeaderId, p.CurrentLeaderEpoch);
    }

    /// <summary>Reads an answer (the records copied), as a client does: for tests and tools.</summary>
    public static FetchResponse Read(ref KafkaReader reader, short version)
    {
        var flexible = version >= FetchRequest.FirstFlexibleVersion;
        var throttleTimeMs = reader.ReadInt32();
        var error = ErrorCode.None;
        if (version >= 7)
        {
            error = (ErrorCode)reader.ReadInt16();
            reader.ReadInt32();
        }
        var topics = new FetchTopicResponse[Math.Max(reader.ReadArrayLength(flexible), 0)];
        for (var t = 0; t < topics.Length; t++)
        {
            var id = version >= FetchRequest.TopicIdsVersion ? reader.ReadUuid() : Guid.Empty;
            var name = version >= FetchRequest.TopicIdsVersion ? "" : reader.ReadString(flexible);
            var partitions = new FetchPartitionResponse[Math.Max(reader.ReadArrayLength(flexible), 0)];
            for (var i = 0; i < partitions.Length; i++)
            {
                var index = reader.ReadInt32();
                var perror = (ErrorCode)reader.ReadInt16();
                var hw = reader.ReadInt64();
                var lso = reader.ReadInt64();
                var logStart = version >= 5 ? reader.ReadInt64() : -1;
                List<FetchAbortedTransaction>? aborted = null;
                var abortedCount = reader.ReadArrayLength(flexible);
                if (abortedCount >= 0)
                {
                    aborted = new List<FetchAbortedTransaction>(abortedCount);
                    for (var a = 0; a < abortedCount; a++)
                    {
                        aborted.Add(new FetchAbortedTransaction(reader.ReadInt64(), reader.ReadInt64()));
                        if (flexible) reader.SkipTaggedFields();
                    }
                }
                if (version >= 11) reader.ReadInt32();
                var records = reader.ReadBytes(flexible).ToArray();
                var p = new FetchPartitionResponse(index, perror, hw, lso, logStart, aborted, records);
                if (flexible)
                {
                    for (var tags = reader.ReadUnsignedVarint(); tags > 0; tags--)
                    {
                        var tag = reader.ReadUnsignedVarint();
                        var size = (int)reader.ReadUnsignedVarint();
                        if (tag == 0) p = p with { DivergingEpoch = reader.ReadInt32(), DivergingEndOffset = reader.ReadInt64() };
                        else if (tag == 1) p = p with { CurrentLeaderId = reader.ReadInt32(), CurrentLeaderEpoch = reader.ReadInt32() };
                        else
                        {
                            reader.Skip(size);
                            continue;
                        }
                        reader.SkipTaggedFields();
                    }
                }
                partitions[i] = p;
            }
            if (flexible) reader.SkipTaggedFields();
            topics[t] = new FetchTopicResponse(name, partitions, id);
        }
        var nodes = flexible ? LeaderDiscoveryFields.Read(ref reader) : null;
        return new FetchResponse(error, topics, nodes, throttleTimeMs);
    }
}
