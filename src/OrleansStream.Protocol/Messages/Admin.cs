namespace OrleansStream.Protocol.Messages;

public sealed record CreatableTopic(string Name, int NumPartitions, short ReplicationFactor, bool HasAssignments, IReadOnlyList<KeyValuePair<string, string?>> Configs);

/// <summary>CreateTopics v0-4 (v1: validate only; v4: -1 partitions or replication factor take the broker defaults).</summary>
public sealed record CreateTopicsRequest(IReadOnlyList<CreatableTopic> Topics, int TimeoutMs, bool ValidateOnly)
{
    public static CreateTopicsRequest Read(ref KafkaReader r, short version)
    {
        var count = Math.Max(r.ReadArrayLength(false), 0);
        var topics = new List<CreatableTopic>(count);
        for (var i = 0; i < count; i++)
        {
            var name = r.ReadString(false);
            var partitions = r.ReadInt32();
            var rf = r.ReadInt16();
            var assignments = Math.Max(r.ReadArrayLength(false), 0);
            for (var a = 0; a < assignments; a++)
            {
                r.ReadInt32();
                r.ReadInt32Array(false);
            }
            var configCount = Math.Max(r.ReadArrayLength(false), 0);
            var configs = new List<KeyValuePair<string, string?>>(configCount);
            for (var c = 0; c < configCount; c++) configs.Add(new(r.ReadString(false), r.ReadNullableString(false)));
            topics.Add(new CreatableTopic(name, partitions, rf, assignments > 0, configs));
        }
        var timeout = r.ReadInt32();
        var validateOnly = version >= 1 && r.ReadBoolean();
        return new CreateTopicsRequest(topics, timeout, validateOnly);
    }

    public void Write(KafkaWriter w, short version)
    {
        w.WriteArrayLength(Topics.Count, false);
        foreach (var t in Topics)
        {
            w.WriteString(t.Name, false);
            w.WriteInt32(t.NumPartitions);
            w.WriteInt16(t.ReplicationFactor);
            w.WriteArrayLength(0, false);
            w.WriteArrayLength(t.Configs.Count, false);
            foreach (var (key, value) in t.Configs)
            {
                w.WriteString(key, false);
                w.WriteNullableString(value, false);
            }
        }
        w.WriteInt32(TimeoutMs);
        if (version >= 1) w.WriteBoolean(ValidateOnly);
    }
}

public readonly record struct TopicError(string Name, ErrorCode Error, string? ErrorMessage);

/// <summary>
/// The answer of CreateTopics v0-4 (v1: messages; v2: throttle time), CreatePartitions v0-2 (throttle time and messages
/// always; v2 flexible) and DeleteTopics v0-4 (throttle time from v1, no messages; v4 flexible).
/// </summary>
public sealed record TopicErrorsResponse(IReadOnlyList<TopicError> Topics)
{
    public void WriteCreateTopics(KafkaWriter w, short version) => Write(w, throttle: version >= 2, messages: version >= 1, flexible: false);

    public void WriteCreatePartitions(KafkaWriter w, short version) => Write(w, throttle: true, messages: true, flexible: version >= 2);

    public void WriteDeleteTopics(KafkaWriter w, short version) => Write(w, throttle: version >= 1, messages: false, flexible: version >= 4);

    private void Write(KafkaWriter w, bool throttle, bool messages, bool flexible)
    {
        if (throttle) w.WriteInt32(0);
        w.WriteArrayLength(Topics.Count, flexible);
        foreach (var t in Topics)
        {
            w.WriteString(t.Name, flexible);
            w.WriteInt16((short)t.Error);
            if (messages) w.WriteErrorMessage(t.ErrorMessage, flexible);
            if (flexible) w.WriteEmptyTaggedFields();
        }
        if (flexible) w.WriteEmptyTaggedFields();
    }
}

/// <summary>DeleteTopics v0-4 (v4 flexible).</summary>
public sealed record DeleteTopicsRequest(IReadOnlyList<string> TopicNames, int TimeoutMs)
{
    public static DeleteTopicsRequest Read(ref KafkaReader r, short version)
    {
        var flexible = version >= 4;
        var count = Math.Max(r.ReadArrayLength(flexible), 0);
        var names = new List<string>(count);
        for (var i = 0; i < count; i++) names.Add(r.ReadString(flexible));
        var timeoutMs = r.ReadInt32();
        if (flexible) r.SkipTaggedFields();
        return new DeleteTopicsRequest(names, timeoutMs);
    }

    public void Write(KafkaWriter w, short version)
    {
        var flexible = version >= 4;
        w.WriteArrayLength(TopicNames.Count, flexible);
        foreach (var n in TopicNames) w.WriteString(n, flexible);
        w.WriteInt32(TimeoutMs);
        if (flexible) w.WriteEmptyTaggedFields();
    }
}

public readonly record struct CreatePartitionsTopic(string Name, int Count, bool HasAssignments);

/// <summary>CreatePartitions v0-2 (v2 flexible).</summary>
public sealed record CreatePartitionsRequest(IReadOnlyList<CreatePartitionsTopic> Topics, int TimeoutMs, bool ValidateOnly)
{
    public static CreatePartitionsRequest Read(ref KafkaReader r, short version)
    {
        var flexible = version >= 2;
        var count = Math.Max(r.ReadArrayLength(flexible), 0);
        var topics = new List<CreatePartitionsTopic>(count);
        for (var i = 0; i < count; i++)
        {
            var name = r.ReadString(flexible);
            var total = r.ReadInt32();
            var assignments = r.ReadArrayLength(flexible);
            for (var a = 0; a < assignments; a++)
            {
                r.ReadInt32Array(flexible);
                if (flexible) r.SkipTaggedFields();
            }
            if (flexible) r.SkipTaggedFields();
            topics.Add(new CreatePartitionsTopic(name, total, assignments > 0));
        }
        var timeoutMs = r.ReadInt32();
        var validateOnly = r.ReadBoolean();
        if (flexible) r.SkipTaggedFields();
        return new CreatePartitionsRequest(topics, timeoutMs, validateOnly);
    }

    public void Write(KafkaWriter w, short version)
    {
        var flexible = version >= 2;
        w.WriteArrayLength(Topics.Count, flexible);
        foreach (var t in Topics)
        {
            w.WriteString(t.Name, flexible);
            w.WriteInt32(t.Count);
            w.WriteArrayLength(-1, flexible);
            if (flexible) w.WriteEmptyTaggedFields();
        }
        w.WriteInt32(TimeoutMs);
        w.WriteBoolean(ValidateOnly);
        if (flexible) w.WriteEmptyTaggedFields();
    }
}

/// <summary>
/// InitProducerId v0-5: a producer id for an idempotent producer (null transactional id) or a transactional one. v2 is
/// flexible; v3 (KIP-360) adds the producer's current id and epoch (-1 and -1 for none), so it can bump its epoch in place;
/// v4 (ProducerFenced) and v5 (TransactionAbortable, KIP-890) add no field, only errors the client understands.
/// </summary>
public sealed record InitProducerIdRequest(string? TransactionalId, int TransactionTimeoutMs, long ProducerId = -1, short ProducerEpoch = -1)
{
    public static InitProducerIdRequest Read(ref KafkaReader r, short version)
    {
        var flexible = version >= 2;
        var transactionalId = r.ReadNullableString(flexible);
        var timeoutMs = r.ReadInt32();
        var (producerId, producerEpoch) = version >= 3 ? (r.ReadInt64(), r.ReadInt16()) : (-1L, (short)-1);
        if (flexible) r.SkipTaggedFields();
        return new InitProducerIdRequest(transactionalId, timeoutMs, producerId, producerEpoch);
    }

    public void Write(KafkaWriter w, short version)
    {
        var flexible = version >= 2;
        w.WriteNullableString(TransactionalId, flexible);
        w.WriteInt32(TransactionTimeoutMs);
        if (version >= 3)
        {
            w.WriteInt64(ProducerId);
            w.WriteInt16(ProducerEpoch);
        }
        if (flexible) w.WriteEmptyTaggedFields();
    }
}

public sealed record InitProducerIdResponse(ErrorCode Error, long ProducerId, short ProducerEpoch)
{
    public void Write(KafkaWriter w, short version)
    {
        w.WriteInt32(0);
        w.WriteInt16((short)Error);
        w.WriteInt64(ProducerId);
        w.WriteInt16(ProducerEpoch);
        if (version >= 2) w.WriteEmptyTaggedFields();
    }
}
