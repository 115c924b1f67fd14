namespace OrleansStream.Client.Admin;

/// <summary>Confluent.Kafka's ResourcePatternType (Kafka's PatternType codes): a binding is literal or prefixed; a filter may also say any or match.</summary>
public enum ResourcePatternType
{
    Unknown = 0,
    Any = 1,
    Match = 2,
    Literal = 3,
    Prefixed = 4,
}

/// <summary>Confluent.Kafka's AclOperation, with Kafka's codes.</summary>
public enum AclOperation
{
    Unknown = 0,
    Any = 1,
    All = 2,
    Read = 3,
    Write = 4,
    Create = 5,
    Delete = 6,
    Alter = 7,
    Describe = 8,
    ClusterAction = 9,
    DescribeConfigs = 10,
    AlterConfigs = 11,
    IdempotentWrite = 12,
}

/// <summary>Confluent.Kafka's AclPermissionType, with Kafka's codes.</summary>
public enum AclPermissionType
{
    Unknown = 0,
    Any = 1,
    Deny = 2,
    Allow = 3,
}

/// <summary>What a binding applies to: a resource by type and name, literal or prefixed (Kafka's ResourcePattern).</summary>
public sealed record ResourcePattern
{
    public ResourceType Type { get; set; }

    /// <summary>The resource's name, <c>*</c> for every resource of the type; a CLUSTER's is <c>kafka-cluster</c>.</summary>
    public string Name { get; set; } = "";

    public ResourcePatternType ResourcePatternType { get; set; }

    public ResourcePatternFilter ToFilter() => new() { Type = Type, Name = Name, ResourcePatternType = ResourcePatternType };


    public override string ToString() => $"ResourcePattern(resourceType={Type}, name={Name}, patternType={ResourcePatternType})";
}

/// <summary>Which resource patterns a filter matches; a null <see cref="Name"/> matches any name.</summary>
public sealed record ResourcePatternFilter
{
    public ResourceType Type { get; set; }

    public string? Name { get; set; }

    public ResourcePatternType ResourcePatternType { get; set; }


    public override string ToString() => $"ResourcePatternFilter(resourceType={Type}, name={Name ?? "<any>"}, patternType={ResourcePatternType})";
}

/// <summary>Who may (or may not) do what from where (Kafka's AccessControlEntry): a principal such as <c>User:alice</c>, a host or <c>*</c>.</summary>
public sealed record AccessControlEntry
{
    public string Principal { get; set; } = "";

    public string Host { get; set; } = "*";

    public AclOperation Operation { get; set; }

    public AclPermissionType PermissionType { get; set; }

    public AccessControlEntryFilter ToFilter() => new() { Principal = Principal, Host = Host, Operation = Operation, PermissionType = PermissionType };


    public override string ToString() => $"(principal={Principal}, host={Host}, operation={Operation}, permissionType={PermissionType})";
}

/// <summary>Which entries a filter matches; a null principal or host matches any.</summary>
public sealed record AccessControlEntryFilter
{
    public string? Principal { get; set; }

    public string? Host { get; set; }

    public AclOperation Operation { get; set; }

    public AclPermissionType PermissionType { get; set; }


    public override string ToString() => $"(principal={Principal ?? "<any>"}, host={Host ?? "<any>"}, operation={Operation}, permissionType={PermissionType})";
}

/// <summary>
/// An ACL: a resource pattern and an entry. Records, equal by value as Confluent's classes are (their <c>Clone</c> is a
/// record's <c>with { }</c> here: a record may not declare one).
/// </summary>
public sealed record AclBinding
{
    public ResourcePattern Pattern { get; set; } = new();

    public AccessControlEntry Entry { get; set; } = new();

    public AclBindingFilter ToFilter() => new() { PatternFilter = Pattern.ToFilter(), EntryFilter = Entry.ToFilter() };


    public override string ToString() => $"(pattern={Pattern}, entry={Entry})";
}

/// <summary>What DescribeAcls lists and DeleteAcls removes (Kafka's AclBindingFilter); <c>Any</c> values match any.</summary>
public sealed record AclBindingFilter
{
    public ResourcePatternFilter PatternFilter { get; set; } = new();

    public AccessControlEntryFilter EntryFilter { get; set; } = new();


    public override string ToString() => $"(patternFilter={PatternFilter}, entryFilter={EntryFilter})";
}

public sealed class CreateAclsOptions : AdminOptions;

public sealed class DescribeAclsOptions : AdminOptions;

public sealed class DeleteAclsOptions : AdminOptions;

/// <summary>One binding's outcome of CreateAcls, in the order given.</summary>
public sealed record CreateAclReport
{
    public Error Error { get; set; } = Error.NoError;
}

/// <summary>A binding of CreateAcls was refused: every binding's outcome is in <see cref="Results"/>, in the order given.</summary>
public sealed class CreateAclsException(List<CreateAclReport> results) : KafkaException(AdminReports.FirstError(results, static r => r.Error, "create ACLs"))
{
    public List<CreateAclReport> Results { get; } = results;
}

public sealed record DescribeAclsResult
{
    public List<AclBinding> AclBindings { get; set; } = [];
}

public sealed record DescribeAclsReport
{
    public Error Error { get; set; } = Error.NoError;

    public List<AclBinding> AclBindings { get; set; } = [];
}

/// <summary>DescribeAcls was refused (an invalid filter: InvalidRequest with Kafka's message).</summary>
public sealed class DescribeAclsException(DescribeAclsReport result) : KafkaException(result.Error)
{
    public DescribeAclsReport Result { get; } = result;
}

/// <summary>The bindings one filter of DeleteAcls removed.</summary>
public sealed record DeleteAclsResult
{
    public List<AclBinding> AclBindings { get; set; } = [];
}

public sealed record DeleteAclsReport
{
    public Error Error { get; set; } = Error.NoError;

    public List<AclBinding> AclBindings { get; set; } = [];
}

/// <summary>A filter of DeleteAcls was refused: every filter's outcome is in <see cref="Results"/>, in the order given.</summary>
public sealed class DeleteAclsException(List<DeleteAclsReport> results) : KafkaException(AdminReports.FirstError(results, static r => r.Error, "delete ACLs"))
{
    public List<DeleteAclsReport> Results { get; } = results;
}
