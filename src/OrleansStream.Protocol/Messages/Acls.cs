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

    /// <summary>
    /// CreateAcls' or DeleteAcls' answer: one result per creation or filter, each with the same error (DeleteAcls'
    /// with no matching bindings).
    /// </summary>
    public static void WriteResults(KafkaWriter writer, int results, ErrorCode error, string? message, bool flexible, bool withMatchingAcls)
    {
        writer.WriteInt32(0);
        writer.WriteArrayLength(results, flexible);
        for (var i = 0; i < results; i++)
        {
            writer.WriteInt16((short)error);
            writer.WriteErrorMessage(message, flexible);
            if (withMatchingAcls) writer.WriteArrayLength(0, flexible);
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

/// <summary>DescribeAclsResponse v1-3 with an error for the whole request and no resources.</summary>
public sealed record DescribeAclsResponse(ErrorCode Error, string? ErrorMessage)
{
    public void Write(KafkaWriter writer, short version)
    {
        var flexible = version >= 2;
        writer.WriteInt32(0);
        writer.WriteInt16((short)Error);
        writer.WriteErrorMessage(ErrorMessage, flexible);
        writer.WriteArrayLength(0, flexible);
        if (flexible) writer.WriteEmptyTaggedFields();
    }
}

/// <summary>CreateAclsRequest v1-3 (v2 flexible): the bindings to create.</summary>
public sealed record CreateAclsRequest(AclSpec[] Creations)
{
    public static CreateAclsRequest Read(ref KafkaReader reader, short version) =>
        new(AclSpec.ReadArray(ref reader, version >= 2, filter: false));

    public void Write(KafkaWriter writer, short version) => AclSpec.WriteArray(writer, Creations, version >= 2);
}

/// <summary>CreateAclsResponse v1-3: one result per creation, each with the same error.</summary>
public sealed record CreateAclsResponse(int Results, ErrorCode Error, string? ErrorMessage)
{
    public void Write(KafkaWriter writer, short version) =>
        AclSpec.WriteResults(writer, Results, Error, ErrorMessage, version >= 2, withMatchingAcls: false);
}

/// <summary>DeleteAclsRequest v1-3 (v2 flexible): the filters whose matching bindings go.</summary>
public sealed record DeleteAclsRequest(AclSpec[] Filters)
{
    public static DeleteAclsRequest Read(ref KafkaReader reader, short version) =>
        new(AclSpec.ReadArray(ref reader, version >= 2, filter: true));

    public void Write(KafkaWriter writer, short version) => AclSpec.WriteArray(writer, Filters, version >= 2);
}

/// <summary>DeleteAclsResponse v1-3: one result per filter, each with the same error and no matching bindings.</summary>
public sealed record DeleteAclsResponse(int Results, ErrorCode Error, string? ErrorMessage)
{
    public void Write(KafkaWriter writer, short version) =>
        AclSpec.WriteResults(writer, Results, Error, ErrorMessage, version >= 2, withMatchingAcls: true);
}
