namespace OrleansStream.Server.Security.Authorization;

/// <summary>Kafka's <c>ResourceType</c>, with its wire codes.</summary>
public enum AclResourceType : sbyte
{
    Unknown = 0,
    Any = 1,
    Topic = 2,
    Group = 3,
    Cluster = 4,
    TransactionalId = 5,
    DelegationToken = 6,
    User = 7,
}

/// <summary>Kafka's <c>PatternType</c>: a binding is literal or prefixed; a filter may also say any or match.</summary>
public enum AclPatternType : sbyte
{
    Unknown = 0,
    Any = 1,
    Match = 2,
    Literal = 3,
    Prefixed = 4,
}

/// <summary>Kafka's <c>AclOperation</c>, with its wire codes (also the bit positions of the authorized-operations fields).</summary>
public enum AclOperation : sbyte
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
    CreateTokens = 13,
    DescribeTokens = 14,
}

/// <summary>Kafka's <c>AclPermissionType</c>.</summary>
public enum AclPermissionType : sbyte
{
    Unknown = 0,
    Any = 1,
    Deny = 2,
    Allow = 3,
}

/// <summary>
/// Kafka's <c>AclBinding</c>: a resource pattern (type, name, literal or prefixed) and an entry (principal, host,
/// operation, allow or deny). Stored by the controller; every broker's <see cref="KafkaAuthorizer"/> holds them all.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record AclBinding(
    [property: Id(0)] AclResourceType ResourceType,
    [property: Id(1)] string ResourceName,
    [property: Id(2)] AclPatternType PatternType,
    [property: Id(3)] string Principal,
    [property: Id(4)] string Host,
    [property: Id(5)] AclOperation Operation,
    [property: Id(6)] AclPermissionType Permission)
{
    /// <summary>Kafka's wildcard resource name and host (<c>ResourcePattern.WILDCARD_RESOURCE</c>, <c>AclEntry.WILDCARD_HOST</c>).</summary>
    public const string Wildcard = "*";

    /// <summary>The one name a CLUSTER resource has (<c>kafka-cluster</c>).</summary>
    public const string ClusterName = "kafka-cluster";

    /// <summary>Kafka's wildcard principal, which matches every principal.</summary>
    public const string WildcardPrincipal = "User:*";

    /// <summary>
    /// Why the controller refuses to store this binding (Kafka's <c>AclApis.handleCreateAcls</c> and
    /// <c>AclControlManager.validateNewAcl</c>), as <see cref="ErrorCode.InvalidRequest"/>; null when it may be stored.
    /// </summary>
    public string? Validate()
    {
        if (ResourceType is AclResourceType.Unknown or AclResourceType.Any || !Enum.IsDefined(ResourceType)) return $"Invalid resourceType {Name(ResourceType)}";
        if (PatternType is not (AclPatternType.Literal or AclPatternType.Prefixed)) return $"Invalid patternType {Name(PatternType)}";
        if (Operation is AclOperation.Unknown or AclOperation.Any || !Enum.IsDefined(Operation)) return $"Invalid operation {Name(Operation)}";
        if (Permission is not (AclPermissionType.Allow or AclPermissionType.Deny)) return $"Invalid permissionType {Name(Permission)}";
        if (ResourceType == AclResourceType.Cluster && ResourceName != ClusterName) return $"The only valid name for the CLUSTER resource is {ClusterName}";
        if (string.IsNullOrEmpty(ResourceName)) return "Invalid empty resource name";
        if (Principal is null || Principal.IndexOf(':', StringComparison.Ordinal) < 0)
            return $"Could not parse principal from `{Principal}` (no colon is present separating the principal type from the principal name)";
        if (Host is null) return "Invalid null host";
        return null;
    }

    /// <summary>Kafka's upper-case names of the enums (<c>TOPIC</c>, <c>PREFIXED</c>, <c>DESCRIBE_CONFIGS</c>), for messages and logs.</summary>
    public static string Name<T>(T value) where T : struct, Enum
    {
        if (!Enum.IsDefined(value)) return "UNKNOWN";
        var name = value.ToString();
        var result = new System.Text.StringBuilder(name.Length + 4);
        for (var i = 0; i < name.Length; i++)
        {
            if (i > 0 && char.IsUpper(name[i]) && char.IsLower(name[i - 1])) result.Append('_');
            result.Append(char.ToUpperInvariant(name[i]));
        }
        return result.ToString();
    }

    public override string ToString() =>
        $"(pattern=ResourcePattern(resourceType={Name(ResourceType)}, name={ResourceName}, patternType={Name(PatternType)}), entry=(principal={Principal}, host={Host}, operation={Name(Operation)}, permissionType={Name(Permission)}))";
}

/// <summary>
/// Kafka's <c>AclBindingFilter</c>: what DescribeAcls lists and DeleteAcls removes. A null name, principal or host
/// matches any; <see cref="AclResourceType.Any"/>, <see cref="AclPatternType.Any"/>, <see cref="AclOperation.Any"/> and
/// <see cref="AclPermissionType.Any"/> match any; <see cref="AclPatternType.Match"/> matches the bindings that would
/// apply to the named resource (that literal name, the literal wildcard, and every prefix of it).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record AclBindingFilter(
    [property: Id(0)] AclResourceType ResourceType,
    [property: Id(1)] string? ResourceName,
    [property: Id(2)] AclPatternType PatternType,
    [property: Id(3)] string? Principal,
    [property: Id(4)] string? Host,
    [property: Id(5)] AclOperation Operation,
    [property: Id(6)] AclPermissionType Permission)
{
    /// <summary>Every binding.</summary>
    public static AclBindingFilter Any { get; } = new(AclResourceType.Any, null, AclPatternType.Any, null, null, AclOperation.Any, AclPermissionType.Any);

    /// <summary>Why this filter is refused (Kafka's <c>validateFilter</c>: an unknown part), as <see cref="ErrorCode.InvalidRequest"/>; null when usable.</summary>
    public string? Validate()
    {
        if (ResourceType == AclResourceType.Unknown || !Enum.IsDefined(ResourceType)) return "Unknown patternFilter.";
        if (PatternType == AclPatternType.Unknown || !Enum.IsDefined(PatternType)) return "Unknown patternFilter.";
        if (Operation == AclOperation.Unknown || !Enum.IsDefined(Operation)) return "Unknown entryFilter.";
        if (Permission == AclPermissionType.Unknown || !Enum.IsDefined(Permission)) return "Unknown entryFilter.";
        return null;
    }

    /// <summary>Kafka's <c>AclBindingFilter.matches</c>.</summary>
    public bool Matches(AclBinding binding)
    {
        ArgumentNullException.ThrowIfNull(binding);
        if (ResourceType != AclResourceType.Any && ResourceType != binding.ResourceType) return false;
        if (!PatternMatches(binding)) return false;
        if (Principal is not null && Principal != binding.Principal) return false;
        if (Host is not null && Host != binding.Host) return false;
        if (Operation != AclOperation.Any && Operation != binding.Operation) return false;
        return Permission == AclPermissionType.Any || Permission == binding.Permission;
    }

    private bool PatternMatches(AclBinding binding)
    {
        if (PatternType == AclPatternType.Match)
        {
            if (ResourceName is null) return true;
            return binding.PatternType switch
            {
                AclPatternType.Literal => binding.ResourceName == ResourceName || binding.ResourceName == AclBinding.Wildcard,
                AclPatternType.Prefixed => ResourceName.StartsWith(binding.ResourceName, StringComparison.Ordinal),
                _ => false,
            };
        }
        if (PatternType != AclPatternType.Any && PatternType != binding.PatternType) return false;
        return ResourceName is null || ResourceName == binding.ResourceName;
    }
}

/// <summary>The controller's answer for one CreateAcls binding or one DeleteAcls filter (with the bindings it removed).</summary>
[GenerateSerializer, Immutable]
public sealed record AclChangeResult(
    [property: Id(0)] ErrorCode Error,
    [property: Id(1)] string? Message,
    [property: Id(2)] IReadOnlyList<AclBinding>? Deleted = null);

/// <summary>Every binding the controller stores, with the version of the last change (a broker reloads when it moved).</summary>
[GenerateSerializer, Immutable]
public sealed record AclSnapshot([property: Id(0)] long Version, [property: Id(1)] IReadOnlyList<AclBinding> Bindings);
