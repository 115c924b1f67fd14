namespace OrleansStream.Protocol.Messages;

/// <summary>
/// An ACL binding or filter as DescribeAcls, CreateAcls and DeleteAcls carry it (v1+: with its pattern type). In a
/// filter the resource name, principal and host may be null (any).
/// </summary>
public readonly record struct AclSpec(
    sbyte ResourceType, string? ResourceName, sbyte PatternType, string? Principal, string? Host, sbyte Operation, sbyte PermissionType)
{
    public static AclSpec Read(ref KafkaReader reader, bool flexible, bool filter)
    {
        var resourceType = reader.ReadInt8();
        var name = filter ? reader.ReadNullableString(flexible) : reader.ReadString(flexible);
        var pattern = reader.ReadInt8();
        var principal = filter ? reader.ReadNullableString(flexible) : reader.ReadString(flexible);
        var host = filter ? reader.ReadNullableString(flexible) : reader.ReadString(flexible);
        return new AclSpec(resourceType, name, pattern, principal, host, reader.ReadInt8(), reader.ReadInt8());
    }

    /// <summary>CreateAcls' creations or DeleteAcls' filters: an array of bindings, each with its tagged fields when flexible.</summary>
    public static AclSpec[] ReadArray(ref KafkaReader reader, bool flexible, bool filter)
    {
        var items = new AclSpec[Math.Max(reader.ReadArrayLength(flexible), 0)];
        for (var i = 0; i < items.Length; i++)
        {
            items[i] = Read(ref reader, flexible, filter);
            if (flexible) reader.SkipTaggedFields();
        }
        if (flexible) reader.SkipTaggedFields();
        return items;
    }

    public static void WriteArray(KafkaWriter writer, AclSpec[] items, bool flexible)
    {
        writer.WriteArrayLength(items.Length, flexible);
        foreach (var item in items)
        {
            item.Write(writer, flexible);
            if (flexible) writer.WriteEmptyTaggedFields();
        }
        if (flexible) writer.WriteEmptyTaggedFields();
    }

    public void Write(KafkaWriter writer, bool flexible)
    {
        writer.WriteInt8(ResourceType);
        writer.WriteNullableString(ResourceName, flexible);
        writer.WriteInt8(PatternType);
        writer.WriteNullableString(Principal, flexible);
        writer.WriteNullableString(Host, flexible);
        writer.WriteInt8(Operation);
        writer.WriteInt8(PermissionType);
    }
}

/// <summary>DescribeAclsRequest v1-3 (v2 flexible; Kafka 4 serves no v0, KIP-896): one filter.</summary>
public sealed record DescribeAclsRequest(AclSpec Filter)
{
    public static DescribeAclsRequest Read(ref KafkaReader reader, short version)
    {
        var flexible = version >= 2;
        var filter = AclSpec.Read(ref reader, flexible, filter: true);
        if (flexible) reader.SkipTaggedFields();
        return new DescribeAclsRequest(filter);
    }

    public void Write(KafkaWriter writer, short version)
    {
        Filter.Write(writer, version >= 2);
        if (version >= 2) writer.WriteEmptyTaggedFields();
    }
}

/// <summary>
/// DescribeAclsResponse v1-3: an error for the whole request, or the bindings, grouped by resource pattern (type, name
/// and pattern type) in the order first met, each with its entries (principal, host, operation, permission).
/// </summary>
public sealed record DescribeAclsResponse(ErrorCode Error, string? ErrorMessage, IReadOnlyList<AclSpec>? Bindings = null)
{
    public void Write(KafkaWriter writer, short version)
    {
        var flexible = version >= 2;
        writer.WriteInt32(0);
        writer.WriteInt16((short)Error);
        writer.WriteErrorMessage(ErrorMessage, flexible);
        var groups = new List<(AclSpec Pattern, List<AclSpec> Entries)>();
        var index = new Dictionary<(sbyte, string?, sbyte), int>();
        foreach (var binding in Bindings ?? [])
        {
            var key = (binding.ResourceType, binding.ResourceName, binding.PatternType);
            if (!index.TryGetValue(key, out var at)) { index[key] = at = groups.Count; groups.Add((binding, [])); }
            groups[at].Entries.Add(binding);
        }
        writer.WriteArrayLength(groups.Count, flexible);
        foreach (var (pattern, entries) in groups)
        {
            writer.WriteInt8(pattern.ResourceType);
            writer.WriteString(pattern.ResourceName ?? "", flexible);
            writer.WriteInt8(pattern.PatternType);
            writer.WriteArrayLength(entries.Count, flexible);
            foreach (var entry in entries)
            {
                writer.WriteString(entry.Principal ?? "", flexible);
                writer.WriteString(entry.Host ?? "", flexible);
                writer.WriteInt8(entry.Operation);
                writer.WriteInt8(entry.PermissionType);
                if (flexible) writer.WriteEmptyTaggedFields();
            }
            if (flexible) writer.WriteEmptyTaggedFields();
        }
        if (flexible) writer.WriteEmptyTaggedFields();
    }
}

/// <summary>One CreateAcls result, or one DeleteAcls filter's result with the bindings it removed.</summary>
public readonly record struct AclResult(ErrorCode Error, string? ErrorMessage, IReadOnlyList<AclSpec>? Matching = null)
{
    /// <summary>The same error for each of <paramref name="count"/> creations or filters (none matching).</summary>
    public static AclResult[] Repeat(int count, ErrorCode error, string? message)
    {
        var results = new AclResult[count];
        Array.Fill(results, new AclResult(error, message));
        return results;
    }
}

/// <summary>CreateAclsRequest v1-3 (v2 flexible): the bindings to create.</summary>
public sealed record CreateAclsRequest(AclSpec[] Creations)
{
    public static CreateAclsRequest Read(ref KafkaReader reader, short version) =>
        new(AclSpec.ReadArray(ref reader, version >= 2, filter: false));

    public void Write(KafkaWriter writer, short version) => AclSpec.WriteArray(writer, Creations, version >= 2);
}

/// <summary>CreateAclsResponse v1-3: one result per creation.</summary>
public sealed record CreateAclsResponse(IReadOnlyList<AclResult> Results)
{
    /// <summary>The same error for each of <paramref name="results"/> creations.</summary>
    public CreateAclsResponse(int results, ErrorCode error, string? message) : this(AclResult.Repeat(results, error, message))
    {
    }

    public void Write(KafkaWriter writer, short version)
    {
        var flexible = version >= 2;
        writer.WriteInt32(0);
        writer.WriteArrayLength(Results.Count, flexible);
        foreach (var result in Results)
        {
            writer.WriteInt16((short)result.Error);
            writer.WriteErrorMessage(result.ErrorMessage, flexible);
            if (flexible) writer.WriteEmptyTaggedFields();
        }
        if (flexible) writer.WriteEmptyTaggedFields();
    }
}

/// <summary>DeleteAclsRequest v1-3 (v2 flexible): the filters whose matching bindings go.</summary>
public sealed record DeleteAclsRequest(AclSpec[] Filters)
{
    public static DeleteAclsRequest Read(ref KafkaReader reader, short version) =>
        new(AclSpec.ReadArray(ref reader, version >= 2, filter: true));

    public void Write(KafkaWriter writer, short version) => AclSpec.WriteArray(writer, Filters, version >= 2);
}

/// <summary>DeleteAclsResponse v1-3: one result per filter, each with the bindings it removed (each with error 0).</summary>
public sealed record DeleteAclsResponse(IReadOnlyList<AclResult> Results)
{
    /// <summary>The same error for each of <paramref name="results"/> filters, with no bindings.</summary>
    public DeleteAclsResponse(int results, ErrorCode error, string? message) : this(AclResult.Repeat(results, error, message))
    {
    }

    public void Write(KafkaWriter writer, short version)
    {
        var flexible = version >= 2;
        writer.WriteInt32(0);
        writer.WriteArrayLength(Results.Count, flexible);
        foreach (var result in Results)
        {
            writer.WriteInt16((short)result.Error);
            writer.WriteErrorMessage(result.ErrorMessage, flexible);
            var matching = result.Matching ?? [];
            writer.WriteArrayLength(matching.Count, flexible);
            foreach (var binding in matching)
            {
                writer.WriteInt16(0);
                writer.WriteErrorMessage(null, flexible);
                writer.WriteInt8(binding.ResourceType);
                writer.WriteString(binding.ResourceName ?? "", flexible);
                writer.WriteInt8(binding.PatternType);
                writer.WriteString(binding.Principal ?? "", flexible);
                writer.WriteString(binding.Host ?? "", flexible);
                writer.WriteInt8(binding.Operation);
                writer.WriteInt8(binding.PermissionType);
                if (flexible) writer.WriteEmptyTaggedFields();
            }
            if (flexible) writer.WriteEmptyTaggedFields();
        }
        if (flexible) writer.WriteEmptyTaggedFields();
    }
}
