namespace OrleansStream.Protocol.Messages;

/// <summary>
/// AddPartitionsToTxn v0-3, the form clients send (v3 flexible); v2 allows the ProducerFenced error, which older versions
/// get as InvalidProducerEpoch. v4+ batch transactions and verify them for brokers only (Kafka's clients stop at v3).
/// </summary>
public sealed record AddPartitionsToTxnRequest(string TransactionalId, long ProducerId, short ProducerEpoch, TopicPartitions[] Topics)
{
    public static AddPartitionsToTxnRequest Read(ref KafkaReader r, short version)
    {
        var flexible = version >= 3;
        var id = r.ReadString(flexible);
        var producerId = r.ReadInt64();
        var epoch = r.ReadInt16();
        var topics = new TopicPartitions[Math.Max(r.ReadArrayLength(flexible), 0)];
        for (var i = 0; i < topics.Length; i++)
        {
            topics[i] = new TopicPartitions(r.ReadString(flexible), r.ReadInt32Array(flexible));
            if (flexible) r.SkipTaggedFields();
        }
        if (flexible) r.SkipTaggedFields();
        return new AddPartitionsToTxnRequest(id, producerId, epoch, topics);
    }

    public void Write(KafkaWriter w, short version)
    {
        var flexible = version >= 3;
        w.WriteString(TransactionalId, flexible);
        w.WriteInt64(ProducerId);
        w.WriteInt16(ProducerEpoch);
        w.WriteArrayLength(Topics.Length, flexible);
        foreach (var t in Topics)
        {
            w.WriteString(t.Topic, flexible);
            w.WriteInt32Array(t.Partitions, flexible);
            if (flexible) w.WriteEmptyTaggedFields();
        }
        if (flexible) w.WriteEmptyTaggedFields();
    }
}

/// <summary>
/// AddPartitionsToTxnResponse v0-3 and TxnOffsetCommitResponse v0-4: the throttle time, then an error per partition
/// (compact, with tagged fields, from AddPartitionsToTxn v3 and TxnOffsetCommit v3).
/// </summary>
public sealed record TxnPartitionErrorsResponse(IReadOnlyList<PartitionErrors> Topics)
{
    public void Write(KafkaWriter w, bool flexible)
    {
        w.WriteInt32(0);
        WriteTopics(w, Topics, flexible);
        if (flexible) w.WriteEmptyTaggedFields();
    }

    /// <summary>Topics with an error per partition, as AddPartitionsToTxn, TxnOffsetCommit and WriteTxnMarkers answer them.</summary>
    internal static void WriteTopics(KafkaWriter w, IReadOnlyList<PartitionErrors> topics, bool flexible)
    {
        w.WriteArrayLength(topics.Count, flexible);
        foreach (var t in topics)
        {
            w.WriteString(t.Name, flexible);
            w.WriteArrayLength(t.Partitions.Length, flexible);
            foreach (var (partition, error) in t.Partitions)
            {
                w.WriteInt32(partition);
                w.WriteInt16((short)error);
                if (flexible) w.WriteEmptyTaggedFields();
            }
            if (flexible) w.WriteEmptyTaggedFields();
        }
    }
}

/// <summary>
/// AddOffsetsToTxn v0-4: adds the group's offsets to the transaction (v2 allows ProducerFenced, v3 is flexible, v4
/// allows TransactionAbortable, KIP-890).
/// </summary>
public sealed record AddOffsetsToTxnRequest(string TransactionalId, long ProducerId, short ProducerEpoch, string GroupId)
{
    public static AddOffsetsToTxnRequest Read(ref KafkaReader r, short version)
    {
        var flexible = version >= 3;
        var request = new AddOffsetsToTxnRequest(r.ReadString(flexible), r.ReadInt64(), r.ReadInt16(), r.ReadString(flexible));
        if (flexible) r.SkipTaggedFields();
        return request;
    }

    public void Write(KafkaWriter w, short version)
    {
        var flexible = version >= 3;
        w.WriteString(TransactionalId, flexible);
        w.WriteInt64(ProducerId);
        w.WriteInt16(ProducerEpoch);
        w.WriteString(GroupId, flexible);
        if (flexible) w.WriteEmptyTaggedFields();
    }
}

/// <summary>
/// EndTxn v0-5: commit (true) or abort the ongoing transaction (v2 allows ProducerFenced, v3 is flexible, v4 allows
/// TransactionAbortable, KIP-890). v5 is v4's layout from a client of transactions v2 (KIP-890 part 2): the coordinator
/// bumps the producer epoch with every transaction and answers the id and epoch to use next.
/// </summary>
public sealed record EndTxnRequest(string TransactionalId, long ProducerId, short ProducerEpoch, bool Committed)
{
    public static EndTxnRequest Read(ref KafkaReader r, short version)
    {
        var flexible = version >= 3;
        var request = new EndTxnRequest(r.ReadString(flexible), r.ReadInt64(), r.ReadInt16(), r.ReadBoolean());
        if (flexible) r.SkipTaggedFields();
        return request;
    }

    public void Write(KafkaWriter w, short version)
    {
        var flexible = version >= 3;
        w.WriteString(TransactionalId, flexible);
        w.WriteInt64(ProducerId);
        w.WriteInt16(ProducerEpoch);
        w.WriteBoolean(Committed);
        if (flexible) w.WriteEmptyTaggedFields();
    }
}

/// <summary>
/// AddOffsetsToTxnResponse v0-4 and EndTxnResponse v0-5: the throttle time and one error (v3+ with tagged fields);
/// EndTxn v5 adds the producer id and epoch the producer takes for its next transaction (-1 with an error).
/// </summary>
public sealed record TxnErrorResponse(ErrorCode Error, long ProducerId = -1, short ProducerEpoch = -1)
{
    public const short FirstEndTxnProducerVersion = 5;

    public void Write(KafkaWriter w, short version) => Write(w, version, endTxn: false);

    /// <summary>The EndTxn answer: from v5 with the producer id and epoch.</summary>
    public void WriteEndTxn(KafkaWriter w, short version) => Write(w, version, endTxn: true);

    private void Write(KafkaWriter w, short version, bool endTxn)
    {
        w.WriteInt32(0);
        w.WriteInt16((short)Error);
        if (endTxn && version >= FirstEndTxnProducerVersion)
        {
            w.WriteInt64(ProducerId);
            w.WriteInt16(ProducerEpoch);
        }
        if (version >= 3) w.WriteEmptyTaggedFields();
    }

    public static TxnErrorResponse Read(ref KafkaReader r, short version, bool endTxn = false)
    {
        r.ReadInt32();
        var error = (ErrorCode)r.ReadInt16();
        var (producerId, epoch) = endTxn && version >= FirstEndTxnProducerVersion ? (r.ReadInt64(), r.ReadInt16()) : (-1L, (short)-1);
        if (version >= 3) r.SkipTaggedFields();
        return new TxnErrorResponse(error, producerId, epoch);
    }
}

/// <summary>
/// TxnOffsetCommit v0-4, sent to the group's coordinator; v2 adds each partition's committed leader epoch, v3 (flexible)
/// the consumer's generation, member id and group instance id (KIP-447), checked by the group like an OffsetCommit's;
/// v4 is v3's layout and allows TransactionAbortable (KIP-890); v5, v4's layout from a client of transactions v2,
/// adds the group to the transaction itself (KIP-890 part 2: no AddOffsetsToTxn first).
/// </summary>
public sealed record TxnOffsetCommitRequest(
    string TransactionalId, string GroupId, long ProducerId, short ProducerEpoch, OffsetCommitTopic[] Topics,
    int GenerationId = -1, string MemberId = "", string? GroupInstanceId = null)
{
    public static TxnOffsetCommitRequest Read(ref KafkaReader r, short version)
    {
        var flexible = version >= 3;
        var id = r.ReadString(flexible);
        var group = r.ReadString(flexible);
        var producerId = r.ReadInt64();
        var epoch = r.ReadInt16();
        var (generation, member, instance) = flexible ? (r.ReadInt32(), r.ReadString(true), r.ReadNullableString(true)) : (-1, "", null);
        var topics = new OffsetCommitTopic[Math.Max(r.ReadArrayLength(flexible), 0)];
        for (var t = 0; t < topics.Length; t++)
        {
            var name = r.ReadString(flexible);
            var partitions = new OffsetCommitPartition[Math.Max(r.ReadArrayLength(flexible), 0)];
            for (var p = 0; p < partitions.Length; p++)
            {
                var index = r.ReadInt32();
                var offset = r.ReadInt64();
                var leaderEpoch = version >= 2 ? r.ReadInt32() : -1;
                partitions[p] = new OffsetCommitPartition(index, offset, leaderEpoch, r.ReadNullableString(flexible));
                if (flexible) r.SkipTaggedFields();
            }
            if (flexible) r.SkipTaggedFields();
            topics[t] = new OffsetCommitTopic(name, partitions);
        }
        if (flexible) r.SkipTaggedFields();
        return new TxnOffsetCommitRequest(id, group, producerId, epoch, topics, generation, member, instance);
    }

    public void Write(KafkaWriter w, short version)
    {
        var flexible = version >= 3;
        w.WriteString(TransactionalId, flexible);
        w.WriteString(GroupId, flexible);
        w.WriteInt64(ProducerId);
        w.WriteInt16(ProducerEpoch);
        if (flexible)
        {
            w.WriteInt32(GenerationId);
            w.WriteString(MemberId, true);
            w.WriteNullableString(GroupInstanceId, true);
        }
        w.WriteArrayLength(Topics.Length, flexible);
        foreach (var t in Topics)
        {
            w.WriteString(t.Name, flexible);
            w.WriteArrayLength(t.Partitions.Length, flexible);
            foreach (var p in t.Partitions)
            {
                w.WriteInt32(p.PartitionIndex);
                w.WriteInt64(p.CommittedOffset);
                if (version >= 2) w.WriteInt32(p.CommittedLeaderEpoch);
                w.WriteNullableString(p.CommittedMetadata, flexible);
                if (flexible) w.WriteEmptyTaggedFields();
            }
            if (flexible) w.WriteEmptyTaggedFields();
        }
        if (flexible) w.WriteEmptyTaggedFields();
    }
}

/// <summary>DescribeTransactions v0 (flexible; Kafka's API 65): the state of each transactional id asked for.</summary>
public sealed record DescribeTransactionsRequest(string[] TransactionalIds)
{
    public static DescribeTransactionsRequest Read(ref KafkaReader r, short version)
    {
        var ids = new string[Math.Max(r.ReadArrayLength(true), 0)];
        for (var i = 0; i < ids.Length; i++) ids[i] = r.ReadString(true);
        r.SkipTaggedFields();
        return new DescribeTransactionsRequest(ids);
    }

    public void Write(KafkaWriter w, short version)
    {
        w.WriteArrayLength(TransactionalIds.Length, true);
        foreach (var id in TransactionalIds) w.WriteString(id, true);
        w.WriteEmptyTaggedFields();
    }
}

public sealed record DescribedTransaction(
    ErrorCode Error, string TransactionalId, string State, int TransactionTimeoutMs, long TransactionStartTimeMs,
    long ProducerId, short ProducerEpoch, IReadOnlyList<TopicPartitions> Topics);

public sealed record DescribeTransactionsResponse(IReadOnlyList<DescribedTransaction> TransactionStates)
{
    public void Write(KafkaWriter w, short version)
    {
        w.WriteInt32(0);
        w.WriteArrayLength(TransactionStates.Count, true);
        foreach (var s in TransactionStates)
        {
            w.WriteInt16((short)s.Error);
            w.WriteString(s.TransactionalId, true);
            w.WriteString(s.State, true);
            w.WriteInt32(s.TransactionTimeoutMs);
            w.WriteInt64(s.TransactionStartTimeMs);
            w.WriteInt64(s.ProducerId);
            w.WriteInt16(s.ProducerEpoch);
            w.WriteArrayLength(s.Topics.Count, true);
            foreach (var t in s.Topics)
            {
                w.WriteString(t.Topic, true);
                w.WriteInt32Array(t.Partitions, true);
                w.WriteEmptyTaggedFields();
            }
            w.WriteEmptyTaggedFields();
        }
        w.WriteEmptyTaggedFields();
    }
}

/// <summary>
/// ListTransactions v0-1 (flexible; Kafka's API 66): empty filters match every transaction; v1's duration filter
/// (KIP-994), -1 for none, keeps the transactions running longer than it.
/// </summary>
public sealed record ListTransactionsRequest(string[] StateFilters, long[] ProducerIdFilters, long DurationFilterMs = -1)
{
    public static ListTransactionsRequest Read(ref KafkaReader r, short version)
    {
        var states = new string[Math.Max(r.ReadArrayLength(true), 0)];
        for (var i = 0; i < states.Length; i++) states[i] = r.ReadString(true);
        var producerIds = new long[Math.Max(r.ReadArrayLength(true), 0)];
        for (var i = 0; i < producerIds.Length; i++) producerIds[i] = r.ReadInt64();
        var duration = version >= 1 ? r.ReadInt64() : -1;
        r.SkipTaggedFields();
        return new ListTransactionsRequest(states, producerIds, duration);
    }

    public void Write(KafkaWriter w, short version)
    {
        w.WriteArrayLength(StateFilters.Length, true);
        foreach (var s in StateFilters) w.WriteString(s, true);
        w.WriteArrayLength(ProducerIdFilters.Length, true);
        foreach (var p in ProducerIdFilters) w.WriteInt64(p);
        if (version >= 1) w.WriteInt64(DurationFilterMs);
        w.WriteEmptyTaggedFields();
    }
}

public readonly record struct ListedTransaction(string TransactionalId, long ProducerId, string State);

public sealed record ListTransactionsResponse(ErrorCode Error, IReadOnlyList<string> UnknownStateFilters, IReadOnlyList<ListedTransaction> TransactionStates)
{
    public void Write(KafkaWriter w, short version)
    {
        w.WriteInt32(0);
        w.WriteInt16((short)Error);
        w.WriteArrayLength(UnknownStateFilters.Count, true);
        foreach (var s in UnknownStateFilters) w.WriteString(s, true);
        w.WriteArrayLength(TransactionStates.Count, true);
        foreach (var t in TransactionStates)
        {
            w.WriteString(t.TransactionalId, true);
            w.WriteInt64(t.ProducerId);
            w.WriteString(t.State, true);
            w.WriteEmptyTaggedFields();
        }
        w.WriteEmptyTaggedFields();
    }
}

/// <summary>DescribeProducers v0 (flexible; Kafka's API 61, KIP-664): the active producers of each partition asked.</summary>
public sealed record DescribeProducersRequest(TopicPartitions[] Topics)
{
    public static DescribeProducersRequest Read(ref KafkaReader r, short version)
    {
        var topics = new TopicPartitions[Math.Max(r.ReadArrayLength(true), 0)];
        for (var i = 0; i < topics.Length; i++)
        {
            topics[i] = new TopicPartitions(r.ReadString(true), r.ReadInt32Array(true));
            r.SkipTaggedFields();
        }
        r.SkipTaggedFields();
        return new DescribeProducersRequest(topics);
    }

    public void Write(KafkaWriter w, short version)
    {
        w.WriteArrayLength(Topics.Length, true);
        foreach (var t in Topics)
        {
            w.WriteString(t.Topic, true);
            w.WriteInt32Array(t.Partitions, true);
            w.WriteEmptyTaggedFields();
        }
        w.WriteEmptyTaggedFields();
    }
}

/// <summary>One producer of DescribeProducers' answer (Kafka's ProducerState); -1 where a value is unknown.</summary>
public readonly record struct DescribedProducer(
    long ProducerId, int ProducerEpoch, int LastSequence, long LastTimestamp, int CoordinatorEpoch, long CurrentTxnStartOffset);

public sealed record DescribedProducersPartition(int PartitionIndex, ErrorCode Error, string? ErrorMessage, IReadOnlyList<DescribedProducer> ActiveProducers);

public sealed record DescribedProducersTopic(string Name, IReadOnlyList<DescribedProducersPartition> Partitions);

public sealed record DescribeProducersResponse(IReadOnlyList<DescribedProducersTopic> Topics)
{
    public void Write(KafkaWriter w, short version)
    {
        w.WriteInt32(0);
        w.WriteTopics(Topics, version, static t => t.Name, static t => t.Partitions, static (w, p, _) =>
        {
            w.WriteInt32(p.PartitionIndex);
            w.WriteInt16((short)p.Error);
            w.WriteErrorMessage(p.ErrorMessage, true);
            w.WriteArrayLength(p.ActiveProducers.Count, true);
            foreach (var producer in p.ActiveProducers)
            {
                w.WriteInt64(producer.ProducerId);
                w.WriteInt32(producer.ProducerEpoch);
                w.WriteInt32(producer.LastSequence);
                w.WriteInt64(producer.LastTimestamp);
                w.WriteInt32(producer.CoordinatorEpoch);
                w.WriteInt64(producer.CurrentTxnStartOffset);
                w.WriteEmptyTaggedFields();
            }
        }, flexible: true);
        w.WriteEmptyTaggedFields();
    }
}

/// <summary>One marker of WriteTxnMarkers: COMMIT (<paramref name="Commit"/>) or ABORT for the producer on each partition named.</summary>
public sealed record WritableTxnMarker(long ProducerId, short ProducerEpoch, bool Commit, TopicPartitions[] Topics, int CoordinatorEpoch);

/// <summary>
/// WriteTxnMarkers v0-1 (v1 flexible): a transaction coordinator's markers, which Kafka's admin client also sends to a
/// partition's leader to abort a hanging transaction (KIP-664, <c>kafka-transactions.sh abort</c>).
/// </summary>
public sealed record WriteTxnMarkersRequest(IReadOnlyList<WritableTxnMarker> Markers)
{
    public static WriteTxnMarkersRequest Read(ref KafkaReader r, short version)
    {
        var flexible = version >= 1;
        var markers = new WritableTxnMarker[Math.Max(r.ReadArrayLength(flexible), 0)];
        for (var m = 0; m < markers.Length; m++)
        {
            var producerId = r.ReadInt64();
            var epoch = r.ReadInt16();
            var commit = r.ReadBoolean();
            var topics = new TopicPartitions[Math.Max(r.ReadArrayLength(flexible), 0)];
            for (var t = 0; t < topics.Length; t++)
            {
                topics[t] = new TopicPartitions(r.ReadString(flexible), r.ReadInt32Array(flexible));
                if (flexible) r.SkipTaggedFields();
            }
            var coordinatorEpoch = r.ReadInt32();
            if (flexible) r.SkipTaggedFields();
            markers[m] = new WritableTxnMarker(producerId, epoch, commit, topics, coordinatorEpoch);
        }
        if (flexible) r.SkipTaggedFields();
        return new WriteTxnMarkersRequest(markers);
    }

    public void Write(KafkaWriter w, short version)
    {
        var flexible = version >= 1;
        w.WriteArrayLength(Markers.Count, flexible);
        foreach (var m in Markers)
        {
            w.WriteInt64(m.ProducerId);
            w.WriteInt16(m.ProducerEpoch);
            w.WriteBoolean(m.Commit);
            w.WriteArrayLength(m.Topics.Length, flexible);
            foreach (var t in m.Topics)
            {
                w.WriteString(t.Topic, flexible);
                w.WriteInt32Array(t.Partitions, flexible);
                if (flexible) w.WriteEmptyTaggedFields();
            }
            w.WriteInt32(m.CoordinatorEpoch);
            if (flexible) w.WriteEmptyTaggedFields();
        }
        if (flexible) w.WriteEmptyTaggedFields();
    }
}

/// <summary>WriteTxnMarkersResponse v0-1: per marker, its producer and an error per partition (no throttle time).</summary>
public sealed record WriteTxnMarkersResponse(IReadOnlyList<(long ProducerId, PartitionErrors[] Topics)> Markers)
{
    public void Write(KafkaWriter w, short version)
    {
        var flexible = version >= 1;
        w.WriteArrayLength(Markers.Count, flexible);
        foreach (var (producerId, topics) in Markers)
        {
            w.WriteInt64(producerId);
            TxnPartitionErrorsResponse.WriteTopics(w, topics, flexible);
            if (flexible) w.WriteEmptyTaggedFields();
        }
        if (flexible) w.WriteEmptyTaggedFields();
    }

    public static WriteTxnMarkersResponse Read(ref KafkaReader r, short version)
    {
        var flexible = version >= 1;
        var markers = new (long, PartitionErrors[])[Math.Max(r.ReadArrayLength(flexible), 0)];
        for (var m = 0; m < markers.Length; m++)
        {
            var producerId = r.ReadInt64();
            var topics = new PartitionErrors[Math.Max(r.ReadArrayLength(flexible), 0)];
            for (var t = 0; t < topics.Length; t++)
            {
                var name = r.ReadString(flexible);
                var partitions = new (int, ErrorCode)[Math.Max(r.ReadArrayLength(flexible), 0)];
                for (var p = 0; p < partitions.Length; p++)
                {
                    partitions[p] = (r.ReadInt32(), (ErrorCode)r.ReadInt16());
                    if (flexible) r.SkipTaggedFields();
                }
                if (flexible) r.SkipTaggedFields();
                topics[t] = new PartitionErrors(name, partitions);
            }
            if (flexible) r.SkipTaggedFields();
            markers[m] = (producerId, topics);
        }
        if (flexible) r.SkipTaggedFields();
        return new WriteTxnMarkersResponse(markers);
    }
}
