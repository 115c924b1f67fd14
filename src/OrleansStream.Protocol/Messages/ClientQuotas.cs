namespace OrleansStream.Protocol.Messages;

/// <summary>
/// One part of a client quota entity (KIP-546): its type ("user", "client-id", "ip") and its name, null for the
/// type's default entity.
/// </summary>
public readonly record struct ClientQuotaEntity(string EntityType, string? EntityName)
{
    /// <summary>An entity: an array of its parts, each with its tagged fields when flexible.</summary>
    public static ClientQuotaEntity[] ReadArray(ref KafkaReader reader, bool flexible)
    {
        var entity = new ClientQuotaEntity[Math.Max(reader.ReadArrayLength(flexible), 0)];
        for (var i = 0; i < entity.Length; i++)
        {
            entity[i] = new ClientQuotaEntity(reader.ReadString(flexible), reader.ReadNullableString(flexible));
            if (flexible) reader.SkipTaggedFields();
        }
        return entity;
    }

    public static void WriteArray(KafkaWriter writer, ClientQuotaEntity[] entity, bool flexible)
    {
        writer.WriteArrayLength(entity.Length, flexible);
        foreach (var part in entity)
        {
            writer.WriteString(part.EntityType, flexible);
            writer.WriteNullableString(part.EntityName, flexible);
            if (flexible) writer.WriteEmptyTaggedFields();
        }
    }
}

/// <summary>
/// One component of a DescribeClientQuotas filter: an entity type and how its name matches (<see cref="MatchExact"/>
/// the name in <see cref="Match"/>, <see cref="MatchDefault"/> the type's default entity, <see cref="MatchAny"/> any
/// entity of the type, the default included).
/// </summary>
public readonly record struct ClientQuotaFilterComponent(string EntityType, sbyte MatchType, string? Match)
{
    /// <summary>The entity named <see cref="Match"/>.</summary>
    public const sbyte MatchExact = 0;

    /// <summary>The type's default entity (whose name is null).</summary>
    public const sbyte MatchDefault = 1;

    /// <summary>Any entity of the type, the default included.</summary>
    public const sbyte MatchAny = 2;
}

/// <summary>
/// DescribeClientQuotasRequest v0-1 (v1 flexible, KIP-546): the filter's components, and whether an entity may have
/// only the component types (strict) or others too.
/// </summary>
public sealed record DescribeClientQuotasRequest(ClientQuotaFilterComponent[] Components, bool Strict)
{
    public static DescribeClientQuotasRequest Read(ref KafkaReader reader, short version)
    {
        var flexible = version >= 1;
        var components = new ClientQuotaFilterComponent[Math.Max(reader.ReadArrayLength(flexible), 0)];
        for (var i = 0; i < components.Length; i++)
        {
            components[i] = new ClientQuotaFilterComponent(reader.ReadString(flexible), reader.ReadInt8(), reader.ReadNullableString(flexible));
            if (flexible) reader.SkipTaggedFields();
        }
        var strict = reader.ReadBoolean();
        if (flexible) reader.SkipTaggedFields();
        return new DescribeClientQuotasRequest(components, strict);
    }

    public void Write(KafkaWriter writer, short version)
    {
        var flexible = version >= 1;
        writer.WriteArrayLength(Components.Length, flexible);
        foreach (var component in Components)
        {
            writer.WriteString(component.EntityType, flexible);
            writer.WriteInt8(component.MatchType);
            writer.WriteNullableString(component.Match, flexible);
            if (flexible) writer.WriteEmptyTaggedFields();
        }
        writer.WriteBoolean(Strict);
        if (flexible) writer.WriteEmptyTaggedFields();
    }
}

/// <summary>One entity's quotas as DescribeClientQuotas tells them: the entity and each quota's key and value.</summary>
public sealed record ClientQuotaEntry(ClientQuotaEntity[] Entity, IReadOnlyList<KeyValuePair<string, double>> Values);

/// <summary>
/// DescribeClientQuotasResponse v0-1: an error for the whole request (and no entries, as Kafka writes it), or the
/// quotas of each entity the filter matches.
/// </summary>
public sealed record DescribeClientQuotasResponse(int ThrottleTimeMs, ErrorCode Error, string? ErrorMessage, IReadOnlyList<ClientQuotaEntry>? Entries)
{
    public void Write(KafkaWriter writer, short version)
    {
        var flexible = version >= 1;
        writer.WriteInt32(ThrottleTimeMs);
        writer.WriteInt16((short)Error);
        writer.WriteErrorMessage(ErrorMessage, flexible);
        writer.WriteArrayLength(Entries?.Count ?? -1, flexible);
        foreach (var entry in Entries ?? [])
        {
            ClientQuotaEntity.WriteArray(writer, entry.Entity, flexible);
            writer.WriteArrayLength(entry.Values.Count, flexible);
            foreach (var (key, value) in entry.Values)
            {
                writer.WriteString(key, flexible);
                writer.WriteFloat64(value);
                if (flexible) writer.WriteEmptyTaggedFields();
            }
            if (flexible) writer.WriteEmptyTaggedFields();
        }
        if (flexible) writer.WriteEmptyTaggedFields();
    }

    /// <summary>A client's reading.</summary>
    public static DescribeClientQuotasResponse Read(ref KafkaReader reader, short version)
    {
        var flexible = version >= 1;
        var throttle = reader.ReadInt32();
        var error = (ErrorCode)reader.ReadInt16();
        var message = reader.ReadNullableString(flexible);
        var count = reader.ReadArrayLength(flexible);
        ClientQuotaEntry[]? entries = count < 0 ? null : new ClientQuotaEntry[count];
        for (var i = 0; i < count; i++)
        {
            var entity = ClientQuotaEntity.ReadArray(ref reader, flexible);
            var values = new KeyValuePair<string, double>[Math.Max(reader.ReadArrayLength(flexible), 0)];
            for (var j = 0; j < values.Length; j++)
            {
                values[j] = new KeyValuePair<string, double>(reader.ReadString(flexible), reader.ReadFloat64());
                if (flexible) reader.SkipTaggedFields();
            }
            if (flexible) reader.SkipTaggedFields();
            entries![i] = new ClientQuotaEntry(entity, values);
        }
        if (flexible) reader.SkipTaggedFields();
        return new DescribeClientQuotasResponse(throttle, error, message, entries);
    }
}

/// <summary>One change to an entity's quotas: set the key's value, or remove the key (the value then unused).</summary>
public readonly record struct ClientQuotaOp(string Key, double Value, bool Remove);

/// <summary>The changes to one entity's quotas.</summary>
public sealed record ClientQuotaAlteration(ClientQuotaEntity[] Entity, ClientQuotaOp[] Ops);

/// <summary>AlterClientQuotasRequest v0-1 (v1 flexible, KIP-546): the changes per entity, and whether only to validate them.</summary>
public sealed record AlterClientQuotasRequest(ClientQuotaAlteration[] Entries, bool ValidateOnly)
{
    public static AlterClientQuotasRequest Read(ref KafkaReader reader, short version)
    {
        var flexible = version >= 1;
        var entries = new ClientQuotaAlteration[Math.Max(reader.ReadArrayLength(flexible), 0)];
        for (var i = 0; i < entries.Length; i++)
        {
            var entity = ClientQuotaEntity.ReadArray(ref reader, flexible);
            var ops = new ClientQuotaOp[Math.Max(reader.ReadArrayLength(flexible), 0)];
            for (var j = 0; j < ops.Length; j++)
            {
                ops[j] = new ClientQuotaOp(reader.ReadString(flexible), reader.ReadFloat64(), reader.ReadBoolean());
                if (flexible) reader.SkipTaggedFields();
            }
            if (flexible) reader.SkipTaggedFields();
            entries[i] = new ClientQuotaAlteration(entity, ops);
        }
        var validateOnly = reader.ReadBoolean();
        if (flexible) reader.SkipTaggedFields();
        return new AlterClientQuotasRequest(entries, validateOnly);
    }

    public void Write(KafkaWriter writer, short version)
    {
        var flexible = version >= 1;
        writer.WriteArrayLength(Entries.Length, flexible);
        foreach (var entry in Entries)
        {
            ClientQuotaEntity.WriteArray(writer, entry.Entity, flexible);
            writer.WriteArrayLength(entry.Ops.Length, flexible);
            foreach (var op in entry.Ops)
            {
                writer.WriteString(op.Key, flexible);
                writer.WriteFloat64(op.Value);
                writer.WriteBoolean(op.Remove);
                if (flexible) writer.WriteEmptyTaggedFields();
            }
            if (flexible) writer.WriteEmptyTaggedFields();
        }
        writer.WriteBoolean(ValidateOnly);
        if (flexible) writer.WriteEmptyTaggedFields();
    }
}

/// <summary>One entity's outcome of an AlterClientQuotas request.</summary>
public readonly record struct AlterClientQuotasResult(ErrorCode Error, string? ErrorMessage, ClientQuotaEntity[] Entity);

/// <summary>AlterClientQuotasResponse v0-1: one result per entity the request named.</summary>
public sealed record AlterClientQuotasResponse(int ThrottleTimeMs, IReadOnlyList<AlterClientQuotasResult> Entries)
{
    public void Write(KafkaWriter writer, short version)
    {
        var flexible = version >= 1;
        writer.WriteInt32(ThrottleTimeMs);
        writer.WriteArrayLength(Entries.Count, flexible);
        foreach (var entry in Entries)
        {
            writer.WriteInt16((short)entry.Error);
            writer.WriteErrorMessage(entry.ErrorMessage, flexible);
            ClientQuotaEntity.WriteArray(writer, entry.Entity, flexible);
            if (flexible) writer.WriteEmptyTaggedFields();
        }
        if (flexible) writer.WriteEmptyTaggedFields();
    }

    /// <summary>A client's reading.</summary>
    public static AlterClientQuotasResponse Read(ref KafkaReader reader, short version)
    {
        var flexible = version >= 1;
        var throttle = reader.ReadInt32();
        var entries = new AlterClientQuotasResult[Math.Max(reader.ReadArrayLength(flexible), 0)];
        for (var i = 0; i < entries.Length; i++)
        {
            var error = (ErrorCode)reader.ReadInt16();
            var message = reader.ReadNullableString(flexible);
            entries[i] = new AlterClientQuotasResult(error, message, ClientQuotaEntity.ReadArray(ref reader, flexible));
            if (flexible) reader.SkipTaggedFields();
        }
        if (flexible) reader.SkipTaggedFields();
        return new AlterClientQuotasResponse(throttle, entries);
    }
}
