using System.Collections.Frozen;

namespace OrleansStream.Server.Security.Authorization;

/// <summary>
/// The bindings of one <see cref="AclSnapshot"/>, arranged for Kafka's <c>StandardAuthorizerData.findAclRule</c>: per
/// resource type, the literal bindings by name (the wildcard <c>*</c> among them) and the prefixed ones. Immutable: a
/// broker swaps in a new image when the controller's ACLs change, so a check reads one consistent set without a lock.
/// </summary>
public sealed class AclImage
{
    private readonly FrozenDictionary<(AclResourceType, string), AclBinding[]> _literal;
    private readonly FrozenDictionary<AclResourceType, AclBinding[]> _prefixed;

    public static AclImage Empty { get; } = new(new AclSnapshot(0, []));

    public AclImage(AclSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        Snapshot = snapshot;
        var literal = new Dictionary<(AclResourceType, string), List<AclBinding>>();
        var prefixed = new Dictionary<AclResourceType, List<AclBinding>>();
        foreach (var binding in snapshot.Bindings)
        {
            if (binding.PatternType == AclPatternType.Prefixed)
            {
                if (!prefixed.TryGetValue(binding.ResourceType, out var list)) prefixed[binding.ResourceType] = list = [];
                list.Add(binding);
            }
            else
            {
                var key = (binding.ResourceType, binding.ResourceName);
                if (!literal.TryGetValue(key, out var list)) literal[key] = list = [];
                list.Add(binding);
            }
        }
        _literal = literal.ToFrozenDictionary(static p => p.Key, static p => p.Value.ToArray());
        _prefixed = prefixed.ToFrozenDictionary(static p => p.Key, static p => p.Value.ToArray());
    }

    public AclSnapshot Snapshot { get; }

    public long Version => Snapshot.Version;

    /// <summary>Kafka's rule for one action, for a principal that is not a super user.</summary>
    public AclDecision Decide(string principal, string host, AclOperation operation, AclResourceType type, string name)
    {
        var decision = AclDecision.NoAcls;
        if (Check(_literal.GetValueOrDefault((type, name)), principal, host, operation, ref decision)) return AclDecision.Denied;
        if (name != AclBinding.Wildcard && Check(_literal.GetValueOrDefault((type, AclBinding.Wildcard)), principal, host, operation, ref decision))
            return AclDecision.Denied;
        if (_prefixed.TryGetValue(type, out var prefixed))
        {
            foreach (var binding in prefixed)
            {
                if (!name.StartsWith(binding.ResourceName, StringComparison.Ordinal)) continue;
                if (Apply(binding, principal, host, operation, ref decision)) return AclDecision.Denied;
            }
        }
        return decision;
    }

    /// <summary>True when a deny binding matched (the answer is then deny, whatever else matches).</summary>
    private static bool Check(AclBinding[]? bindings, string principal, string host, AclOperation operation, ref AclDecision decision)
    {
        if (bindings is null) return false;
        foreach (var binding in bindings)
            if (Apply(binding, principal, host, operation, ref decision)) return true;
        return false;
    }

    private static bool Apply(AclBinding binding, string principal, string host, AclOperation operation, ref AclDecision decision)
    {
        if (decision == AclDecision.NoAcls) decision = AclDecision.NotAllowed;
        if (!Applies(binding, principal, host, operation)) return false;
        if (binding.Permission == AclPermissionType.Deny) return true;
        decision = AclDecision.Allowed;
        return false;
    }

    /// <summary>
    /// Kafka's <c>findResult</c>: the principal (or the wildcard principal) and the host (or <c>*</c>) must match, and
    /// the operation: ALL matches every one; an allow of READ, WRITE, DELETE or ALTER implies DESCRIBE and an allow of
    /// ALTER_CONFIGS implies DESCRIBE_CONFIGS; a deny matches its own operation only.
    /// </summary>
    private static bool Applies(AclBinding binding, string principal, string host, AclOperation operation)
    {
        if (binding.Principal != principal && binding.Principal != AclBinding.WildcardPrincipal) return false;
        if (binding.Host != AclBinding.Wildcard && binding.Host != host) return false;
        if (binding.Operation == AclOperation.All || binding.Operation == operation) return true;
        if (binding.Permission != AclPermissionType.Allow) return false;
        return operation switch
        {
            AclOperation.Describe => binding.Operation is AclOperation.Read or AclOperation.Write or AclOperation.Delete or AclOperation.Alter,
            AclOperation.DescribeConfigs => binding.Operation == AclOperation.AlterConfigs,
            _ => false,
        };
    }
}

/// <summary>What the bindings say of one action.</summary>
public enum AclDecision
{
    /// <summary>No binding names the resource: <c>allow.everyone.if.no.acl.found</c> decides.</summary>
    NoAcls,

    /// <summary>Bindings name the resource, none allows the action.</summary>
    NotAllowed,

    Allowed,

    /// <summary>A deny binding matched.</summary>
    Denied,
}
