namespace OrleansStream.Protocol.Messages;

public sealed record CreatableTopic(string Name, int NumPartitions, short ReplicationFactor, bool HasAssignments, IReadOnlyList<KeyValuePair<string, string?>> Configs);

/// <summary>
/// CreateTopics v0-7 (v1: validate only; v4: -1 partitions or replication factor take the broker defaults; v5
/// flexible; v6 and v7 add nothing to the request).
/// </summary>
public sealed record CreateTopicsRequest(IReadOnlyList<CreatableTopic> Topics, int TimeoutMs, bool ValidateOnly)
{
    public static CreateTopicsRequest Read(ref KafkaReader r, short version)
    {
        var flexible = version >= 5;
        var count = Math.Max(r.ReadArrayLength(flexible), 0);
        var topics = new List<CreatableTopic>(count);
        for (var i = 0; i < count; i++)
        {
            var name = r.ReadString(flexible);
            var partitions = r.ReadInt32();
            var rf = r.ReadInt16();
            var assignments = Math.Max(r.ReadArrayLength(flexible), 0);
            for (var a = 0; a < assignments; a++)
            {
                r.ReadInt32();
                r.ReadInt32Array(flexible);
                if (flexible) r.SkipTaggedFields();
            }
            var configCount = Math.Max(r.ReadArrayLength(flexible), 0);
            var configs = new List<KeyValuePair<string, string?>>(configCount);
            for (var c = 0; c < configCount; c++)
            {
                configs.Add(new(r.ReadString(flexible), r.ReadNullableString(flexible)));
                if (flexible) r.SkipTaggedFields();
            }
            if (flexible) r.SkipTaggedFields();
            topics.Add(new CreatableTopic(name, partitions, rf, assignments > 0, configs));
        }
        var timeout = r.ReadInt32();
        var validateOnly = version >= 1 && r.ReadBoolean();
        if (flexible) r.SkipTaggedFields();
        return new CreateTopicsRequest(topics, timeout, validateOnly);
    }

    public void Write(KafkaWriter w, short version)
    {
        var flexible = version >= 5;
        w.WriteArrayLength(Topics.Count, flexible);
        foreach (var t in Topics)
        {
            w.WriteString(t.Name, flexible);
            w.WriteInt32(t.NumPartitions);
            w.WriteInt16(t.ReplicationFactor);
            w.WriteArrayLength(0, flexible);
            w.WriteArrayLength(t.Configs.Count, flexible);
            foreach (var (key, value) in t.Configs)
            {
                w.WriteString(key, flexible);
                w.WriteNullableString(value, flexible);
                if (flexible) w.WriteEmptyTaggedFields();
            }
            if (flexible) w.WriteEmptyTaggedFields();
        }
        w.WriteInt32(TimeoutMs);
        if (version >= 1) w.WriteBoolean(ValidateOnly);
        if (flexible) w.WriteEmptyTaggedFields();
    }
}

/// <summary>A config of a topic CreateTopics made (v5+): a sensitive one's value is null, as in DescribeConfigs.</summary>
public readonly record struct CreatableTopicConfig(string Name, string? Value, bool ReadOnly, ConfigSource Source, bool Sensitive);

/// <summary>
/// One topic's answer to CreateTopics. From v5 (KIP-525) a topic made (or validated) carries its partition count,
/// replication factor and every config with its source, so a client need not describe it afterwards; otherwise -1, -1
/// and null. From v7 its id (zero for a validate-only request here, which makes no topic).
/// </summary>
public sealed record CreatableTopicResult(string Name, Guid TopicId, ErrorCode Error, string? ErrorMessage,
    int NumPartitions = -1, short ReplicationFactor = -1, IReadOnlyList<CreatableTopicConfig>? Configs = null,
    ErrorCode TopicConfigError = ErrorCode.None);

/// <summary>CreateTopicsResponse v0-7 (v1: messages; v2: throttle time; v5: flexible, with what each topic was made with; v7: topic ids).</summary>
public sealed record CreateTopicsResponse(IReadOnlyList<CreatableTopicResult> Topics, int ThrottleTimeMs = 0)
{
    public void Write(KafkaWriter w, short version)
    {
        var flexible = version >= 5;
        if (version >= 2) w.WriteInt32(ThrottleTimeMs);
        w.WriteArrayLength(Topics.Count, flexible);
        foreach (var t in Topics)
        {
            w.WriteString(t.Name, flexible);
            if (version >= 7) w.WriteUuid(t.TopicId);
            w.WriteInt16((short)t.Error);
            if (version >= 1) w.WriteErrorMessage(t.ErrorMessage, flexible);
            if (version >= 5)
            {
                w.WriteInt32(t.NumPartitions);
                w.WriteInt16(t.ReplicationFactor);
                if (t.Configs is not { } configs) w.WriteArrayLength(-1, flexible);
                else
                {
                    w.WriteArrayLength(configs.Count, flexible);
                    foreach (var c in configs)
                    {
                        w.WriteString(c.Name, flexible);
                        w.WriteNullableString(c.Value, flexible);
                        w.WriteBoolean(c.ReadOnly);
                        w.WriteInt8((sbyte)c.Source);
                        w.WriteBoolean(c.Sensitive);
                        w.WriteEmptyTaggedFields();
                    }
                }
            }
            // TopicConfigErrorCode (tag 0, default NONE): why the configs are withheld (no DESCRIBE_CONFIGS on the topic).
            if (flexible && t.TopicConfigError != ErrorCode.None)
            {
                w.WriteUnsignedVarint(1);
                w.WriteUnsignedVarint(0);
                w.WriteUnsignedVarint(2);
                w.WriteInt16((short)t.TopicConfigError);
            }
            else if (flexible) w.WriteEmptyTaggedFields();
        }
        if (flexible) w.WriteEmptyTaggedFields();
    }

    public static CreateTopicsResponse Read(ref KafkaReader r, short version)
    {
        var flexible = version >= 5;
        var throttleTimeMs = version >= 2 ? r.ReadInt32() : 0;
        var count = r.ReadArrayLength(flexible);
        var topics = new List<CreatableTopicResult>(count);
        for (var i = 0; i < count; i++)
        {
            var name = r.ReadString(flexible);
            var id = version >= 7 ? r.ReadUuid() : Guid.Empty;
            var error = (ErrorCode)r.ReadInt16();
            var message = version >= 1 ? r.ReadNullableString(flexible) : null;
            var (partitions, rf) = (-1, (short)-1);
            List<CreatableTopicConfig>? configs = null;
            if (version >= 5)
            {
                partitions = r.ReadInt32();
                rf = r.ReadInt16();
                var n = r.ReadArrayLength(flexible);
                if (n >= 0)
                {
                    configs = new List<CreatableTopicConfig>(n);
                    for (var c = 0; c < n; c++)
                    {
                        configs.Add(new CreatableTopicConfig(r.ReadString(flexible), r.ReadNullableString(flexible), r.ReadBoolean(), (ConfigSource)r.ReadInt8(), r.ReadBoolean()));
                        r.SkipTaggedFields();
                    }
                }
            }
            if (flexible) r.SkipTaggedFields();
            topics.Add(new CreatableTopicResult(name, id, error, message, partitions, rf, configs));
        }
        if (flexible) r.SkipTaggedFields();
        return new CreateTopicsResponse(topics, throttleTimeMs);
    }
}

/// <summary>One topic's answer to CreatePartitions or DeleteTopics; DeleteTopics v6 answers an unknown id with a null name.</summary>
public readonly record struct TopicError(string? Name, ErrorCode Error, string? ErrorMessage, Guid TopicId = default);

/// <summary>
/// The answer of CreatePartitions v0-3 (throttle time and messages always; v2 flexible) and DeleteTopics v0-6 (throttle
/// time from v1; v4 flexible; v5 messages; v6 each topic's id, and a null name for an id no topic has).
/// </summary>
public sealed record TopicErrorsResponse(IReadOnlyList<TopicError> Topics, int ThrottleTimeMs = 0)
{
    public void WriteCreatePartitions(KafkaWriter w, short version) => Write(w, version, throttle: true, messages: true, flexible: version >= 2, ids: false);

    public void WriteDeleteTopics(KafkaWriter w, short version) => Write(w, version, throttle: version >= 1, messages: version >= 5, flexible: version >= 4, ids: version >= 6);

    private void Write(KafkaWriter w, short version, bool throttle, bool messages, bool flexible, bool ids)
    {
        if (throttle) w.WriteInt32(ThrottleTimeMs);
        w.WriteArrayLength(Topics.Count, flexible);
        foreach (var t in Topics)
        {
            if (ids) w.WriteNullableString(t.Name, flexible);
            else w.WriteString(t.Name ?? "", flexible);
            if (ids) w.WriteUuid(t.TopicId);
            w.WriteInt16((short)t.Error);
            if (messages) w.WriteErrorMessage(t.ErrorMessage, flexible);
            if (flexible) w.WriteEmptyTaggedFields();
        }
        if (flexible) w.WriteEmptyTaggedFields();
    }
}

/// <summary>A topic DeleteTopics v6 names: by name (the zero id) or by id (a null name), never both.</summary>
public readonly record struct DeleteTopicState(string? Name, Guid TopicId)
{
    public static implicit operator DeleteTopicState(string name) => new(name, Guid.Empty);
}

/// <summary>DeleteTopics v0-6 (v4 flexible; v6 names each topic by name or by id, KIP-516).</summary>
public sealed record DeleteTopicsRequest(IReadOnlyList<DeleteTopicState> Topics, int TimeoutMs)
{
    public static DeleteTopicsRequest Read(ref KafkaReader r, short version)
    {
        var flexible = version >= 4;
        var count = Math.Max(r.ReadArrayLength(flexible), 0);
        var topics = new List<DeleteTopicState>(count);
        for (var i = 0; i < count; i++)
        {
            if (version >= 6)
            {
                topics.Add(new DeleteTopicState(r.ReadNullableString(flexible), r.ReadUuid()));
                r.SkipTaggedFields();
            }
            else topics.Add(new DeleteTopicState(r.ReadString(flexible), Guid.Empty));
        }
        var timeoutMs = r.ReadInt32();
        if (flexible) r.SkipTaggedFields();
        return new DeleteTopicsRequest(topics, timeoutMs);
    }

    public void Write(KafkaWriter w, short version)
    {
        var flexible = version >= 4;
        w.WriteArrayLength(Topics.Count, flexible);
        foreach (var t in Topics)
        {
            if (version >= 6)
            {
                w.WriteNullableString(t.Name, flexible);
                w.WriteUuid(t.TopicId);
                w.WriteEmptyTaggedFields();
            }
            else w.WriteString(t.Name ?? "", flexible);
        }
        w.WriteInt32(TimeoutMs);
        if (flexible) w.WriteEmptyTaggedFields();
    }
}

public readonly record struct CreatePartitionsTopic(string Name, int Count, bool HasAssignments);

/// <summary>CreatePartitions v0-3 (v2 flexible; v3 is v2, its answer may refuse a topic over the controller mutation quota, KIP-599).</summary>
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
