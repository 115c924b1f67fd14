using OrleansStream.Server.Security.Authorization;

namespace OrleansStream.Server.Kafka;

/// <summary>
/// Kafka's authorization of the transaction APIs (<c>KafkaApis</c>): WRITE on a transactional id to use it (InitProducerId,
/// AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, TxnOffsetCommit), DESCRIBE to find its coordinator, describe or list it;
/// an idempotent producer needs IDEMPOTENT_WRITE on the cluster or WRITE on some topic (KIP-679).
/// </summary>
internal static class TxnAuthorization
{
    /// <summary>The resource name <c>Authorizer.authorizeByResourceType</c> checks first, so that super users pass.</summary>
    private const string HardcodedName = "hardcode";

    /// <summary>Whether the request may do <paramref name="operation"/> on <paramref name="transactionalId"/>.</summary>
    public static bool IsAllowedOnTransactionalId(this KafkaRequest request, KafkaAuthorizer authorizer, AclOperation operation, string transactionalId) =>
        request.IsAllowed(authorizer, operation, AclResourceType.TransactionalId, transactionalId);

    /// <summary>
    /// InitProducerId's check (Kafka's <c>handleInitProducerIdRequest</c>), before anything else: WRITE on the
    /// transactional id (TransactionalIdAuthorizationFailed); without one, IDEMPOTENT_WRITE on the cluster or WRITE on any
    /// topic (ClusterAuthorizationFailed). Null when allowed.
    /// </summary>
    public static ErrorCode? InitProducerIdRefusal(this KafkaRequest request, KafkaAuthorizer authorizer, string? transactionalId)
    {
        if (!authorizer.IsEnabled) return null;
        if (transactionalId is not null)
            return request.IsAllowedOnTransactionalId(authorizer, AclOperation.Write, transactionalId) ? null : ErrorCode.TransactionalIdAuthorizationFailed;
        if (request.IsAllowedOnCluster(authorizer, AclOperation.IdempotentWrite)) return null;
        return IsAllowedOnAnyResource(authorizer, request.Connection.Principal, request.Connection.ClientHost, AclOperation.Write, AclResourceType.Topic)
            ? null
            : ErrorCode.ClusterAuthorizationFailed;
    }

    /// <summary>
    /// Kafka's <c>Authorizer.authorizeByResourceType</c>: whether some resource of <paramref name="type"/> may be the
    /// object of <paramref name="operation"/>. Allowed for whoever may do it on a resource named <c>hardcode</c> (super
    /// users, and everyone where no binding names it and <c>allow.everyone.if.no.acl.found</c>), else where an allow
    /// binding of the principal (or <c>User:*</c>) and host (or <c>*</c>) for the operation (or ALL) exists that no deny
    /// dominates: a literal <c>*</c> deny denies all, a literal allow is dominated by a deny of the same literal name or of
    /// a prefix of it, a prefixed allow by a prefixed deny of a prefix of it; a literal <c>*</c> allow allows.
    /// </summary>
    public static bool IsAllowedOnAnyResource(KafkaAuthorizer authorizer, string principal, string host, AclOperation operation, AclResourceType type)
    {
        if (authorizer.IsAllowed(principal, host, operation, type, HardcodedName)) return true;
        List<AclBinding>? allows = null;
        List<AclBinding>? denies = null;
        var wildcardAllow = false;
        foreach (var b in authorizer.Bindings)
        {
            if (b.ResourceType != type) continue;
            if (b.Host != host && b.Host != AclBinding.Wildcard) continue;
            if (b.Principal != principal && b.Principal != AclBinding.WildcardPrincipal) continue;
            if (b.Operation != operation && b.Operation != AclOperation.All) continue;
            if (b.Permission == AclPermissionType.Deny)
            {
                if (b.PatternType == AclPatternType.Literal && b.ResourceName == AclBinding.Wildcard) return false;
                (denies ??= []).Add(b);
            }
            else if (b.Permission == AclPermissionType.Allow)
            {
                if (b.PatternType == AclPatternType.Literal && b.ResourceName == AclBinding.Wildcard) wildcardAllow = true;
                else (allows ??= []).Add(b);
            }
        }
        if (wildcardAllow) return true;
        if (allows is null) return false;
        foreach (var allow in allows)
        {
            var dominated = false;
            foreach (var deny in denies ?? [])
            {
                dominated = deny.PatternType == AclPatternType.Prefixed
                    ? allow.ResourceName.StartsWith(deny.ResourceName, StringComparison.Ordinal)
                    : allow.PatternType == AclPatternType.Literal && deny.ResourceName == allow.ResourceName;
                if (dominated) break;
            }
            if (!dominated) return true;
        }
        return false;
    }
}
