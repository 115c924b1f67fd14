using System.Collections.Frozen;

namespace OrleansStream.Server.Security.Authorization;

/// <summary>
/// The bindings of one <see cref="AclSnapshot"/>, arranged for Kafka's <c>StandardAuthorizerData.findAclRule</c>: per
/// resource type, the literal bindings by name (the wildcard <c>*</c> among them) and the prefixed ones. Immutable: a
/// broker swaps in a new image when the controller's ACLs change, so a check reads one consistent set without a lock.
/// </summary>
public sealed class AclImage
{
    // Per resource type (indexed by its code): the literal bindings by name, and the prefixed ones by prefix with the
    // distinct prefix lengths, so a check looks up each length that fits the name rather than scanning every prefix.
    private readonly FrozenDictionary<string, AclBinding[]>?[] _literal;
    private readonly FrozenDictionary<string, AclBinding[]>?[] _prefixed;
    private readonly int[]?[] _prefixLengths;

    public static AclImage Empty { get; } = new(new AclSnapshot(0, []));

    public AclImage(AclSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        Snapshot = snapshot;
        var types = (int)AclResourceType.User + 1;
        _literal = new FrozenDictionary<string, AclBinding[]>?[types];
        _prefixed = new FrozenDictionary<string, AclBinding[]>?[types];
        _prefixLengths = new int[]?[types];
        for (var type = 0; type < types; type++)
        {
            var literal = new Dictionary<string, List<AclBinding>>(StringComparer.Ordinal);
            var prefixed = new Dictionary<string, List<AclBinding>>(StringComparer.Ordinal);
            foreach (var binding in snapshot.Bindings)
            {
                if ((int)binding.ResourceType != type) continue;
                var byName = binding.PatternType == AclPatternType.Prefixed ? prefixed : literal;
                if (!byName.TryGetValue(binding.ResourceName, out var list)) byName[binding.ResourceName] = list = [];
                list.Add(binding);
            }
            if (literal.Count > 0) _literal[type] = literal.ToFrozenDictionary(static p => p.Key, static p => p.Value.ToArray(), StringComparer.Ordinal);
            if (prefixed.Count == 0) continue;
            _prefixed[type] = prefixed.ToFrozenDictionary(static p => p.Key, static p => p.Value.ToArray(), StringComparer.Ordinal);
            var lengths = new SortedSet<int>();
            foreach (var prefix in prefixed.Keys) lengths.Add(prefix.Length);
            _prefixLengths[type] = [.. lengths];
        }
    }

    public AclSnapshot Snapshot { get; }

    public long Version => Snapshot.Version;

    /// <summary>Kafka's rule for one action, for a principal that is not a super user.</summary>
    public AclDecision Decide(string principal, string host, AclOperation operation, AclResourceType type, string name)
    {
        var decision = AclDecision.NoAcls;
        var t = (int)type;
        if ((uint)t >= (uint)_literal.Length) return decision;
        if (_literal[t] is { } literal)
        {
            if (Check(literal.GetValueOrDefault(name), principal, host, operation, ref decision)) return AclDecision.Denied;
            if (name != AclBinding.Wildcard && Check(literal.GetValueOrDefault(AclBinding.Wildcard), principal, host, operation, ref decision))
                return AclDecision.Denied;
        }
        if (_prefixed[t] is { } prefixed)
        {
            var lookup = prefixed.GetAlternateLookup<ReadOnlySpan<char>>();
            foreach (var length in _prefixLengths[t]!)
            {
                if (length > name.Length) break;
                if (lookup.TryGetValue(name.AsSpan(0, length), out var bindings) && Check(bindings, principal, host, operation, ref decision))
                    return AclDecision.Denied;
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
