using OrleansStream.Server.Security.Authorization;

namespace OrleansStream.Server.Controller;

/// <summary>
/// The one mapping between the grain contract's ACL shapes (<see cref="AclBindingInfo"/>, Kafka's codes) and the
/// bindings the controller stores. The stored types keep their assembly and serializer ids (existing clusters' state
/// holds them); the contract is what clients see.
/// </summary>
internal static class SecurityContract
{
    // Codes pass as they are: an unknown one fails the binding's or filter's Kafka checks (Enum.IsDefined), as on the wire.
    public static AclBinding ToBinding(AclBindingInfo b) =>
        new((AclResourceType)b.ResourceType, b.ResourceName ?? "", (AclPatternType)b.PatternType, b.Principal ?? "", b.Host ?? "",
            (AclOperation)b.Operation, (AclPermissionType)b.PermissionType);

    public static AclBindingFilter ToFilter(AclBindingInfo f) =>
        new((AclResourceType)f.ResourceType, f.ResourceName, (AclPatternType)f.PatternType, f.Principal, f.Host,
            (AclOperation)f.Operation, (AclPermissionType)f.PermissionType);

    public static AclBindingInfo ToInfo(AclBinding b) =>
        new((sbyte)b.ResourceType, b.ResourceName, (sbyte)b.PatternType, b.Principal, b.Host, (sbyte)b.Operation, (sbyte)b.Permission);

    public static List<AclBindingInfo> ToInfos(IReadOnlyList<AclBinding>? bindings)
    {
        var infos = new List<AclBindingInfo>(bindings?.Count ?? 0);
        foreach (var b in bindings ?? []) infos.Add(ToInfo(b));
        return infos;
    }
}
