namespace OrleansStream.Protocol.Messages;

public readonly record struct FetchPartition(int Partition, int CurrentLeaderEpoch, long FetchOffset, long LogStartOffset, int PartitionMaxBytes);

public sealed record FetchTopic(string Topic, FetchPartition[] Partitions);

/// <summary>
/// FetchRequest v4-11. Fetch sessions (KIP-227, v7+) are read but not kept: every answer is a full one with session
/// id 0, which tells the client that no session exists, so it keeps sending full requests.
/// </summary>
public sealed record FetchRequest(
    int ReplicaId, int MaxWaitMs, int MinBytes, int MaxBytes, sbyte IsolationLevel, int SessionId, int SessionEpoch,
    FetchTopic[] Topics, string? RackId)
{
    public static FetchRequest Read(ref KafkaReader reader, short version)
    {
        var replicaId = reader.ReadInt32();
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
        var topics = reader.ReadTopics(version, static (ref KafkaReader r, short v) =>
        {
            var index = r.ReadInt32();
            var epoch = v >= 9 ? r.ReadInt32() : -1;
            var offset = r.ReadInt64();
            var logStart = v >= 5 ? r.ReadInt64() : -1;
            return new FetchPartition(index, epoch, offset, logStart, r.ReadInt32());
        }, static (name, partitions) => new FetchTopic(name, partitions));
        if (version >= 7)
        {
            var forgotten = Math.Max(reader.ReadArrayLength(flexible: false), 0);
            for (var i = 0; i < forgotten; i++)
            {
                reader.ReadString(flexible: false);
                reader.ReadInt32Array(flexible: false);
            }
        }
        var rack = version >= 11 ? reader.ReadString(flexible: false) : null;
        return new FetchRequest(replicaId, maxWait, minBytes, maxBytes, isolation, sessionId, sessionEpoch, topics, rack);
    }

    public void Write(KafkaWriter writer, short version)
    {
        writer.WriteInt32(ReplicaId);
        writer.WriteInt32(MaxWaitMs);
        writer.WriteInt32(MinBytes);
        if (version >= 3) writer.WriteInt32(MaxBytes);
        if (version >= 4) writer.WriteInt8(IsolationLevel);
        if (version >= 7)
        {
            writer.WriteInt32(SessionId);
            writer.WriteInt32(SessionEpoch);
        }
        writer.WriteTopics(Topics, version, static t => t.Topic, static t => t.Partitions, static (w, p, v) =>
        {
            w.WriteInt32(p.Partition);
            if (v >= 9) w.WriteInt32(p.CurrentLeaderEpoch);
            w.WriteInt64(p.FetchOffset);
            if (v >= 5) w.WriteInt64(p.LogStartOffset);
            w.WriteInt32(p.PartitionMaxBytes);
        });
        if (version >= 7) writer.WriteArrayLength(0, flexible: false);
        if (version >= 11) writer.WriteString(RackId ?? "", flexible: false);
    }
}

public readonly record struct FetchAbortedTransaction(long ProducerId, long FirstOffset);

/// <summary>One partition's answer: the stored record batches exactly as the log holds them.</summary>
public readonly record struct FetchPartitionResponse(
    int PartitionIndex, ErrorCode Error, long HighWatermark, long LastStableOffset, long LogStartOffset,
    IReadOnlyList<FetchAbortedTransaction>? AbortedTransactions, ReadOnlyMemory<byte> Records);

public sealed record FetchTopicResponse(string Topic, FetchPartitionResponse[] Partitions);

/// <summary>FetchResponse v4-11. Large record sets are written by reference (<see cref="KafkaWriter.WriteBytesByReference"/>), not copied.</summary>
public sealed record FetchResponse(ErrorCode Error, FetchTopicResponse[] Topics)
{
    public void Write(KafkaWriter writer, short version)
    {
        writer.WriteInt32(0);
        if (version >= 7)
        {
            writer.WriteInt16((short)Error);
            writer.WriteInt32(0);
        }
        writer.WriteTopics(Topics, version, static t => t.Topic, static t => t.Partitions, static (w, p, v) =>
        {
            w.WriteInt32(p.PartitionIndex);
            w.WriteInt16((short)p.Error);
            w.WriteInt64(p.HighWatermark);
            w.WriteInt64(p.LastStableOffset);
            if (v >= 5) w.WriteInt64(p.LogStartOffset);
            if (p.AbortedTransactions is null) w.WriteArrayLength(-1, flexible: false);
            else
            {
                w.WriteArrayLength(p.AbortedTransactions.Count, flexible: false);
                foreach (var a in p.AbortedTransactions)
                {
                    w.WriteInt64(a.ProducerId);
                    w.WriteInt64(a.FirstOffset);
                }
            }
            if (v >= 11) w.WriteInt32(-1);
            w.WriteBytesByReference(p.Records, flexible: false);
        });
    }
}
