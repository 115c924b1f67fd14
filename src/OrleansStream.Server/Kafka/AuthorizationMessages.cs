using OrleansStream.Server.Security.Authorization;

namespace OrleansStream.Server.Kafka;

/// <summary>Kafka's messages of its authorization errors, as its brokers write them.</summary>
internal static class AuthorizationMessages
{
    /// <summary><c>Errors.TOPIC_AUTHORIZATION_FAILED</c>.</summary>
    public const string Topic = "Topic authorization failed.";

    /// <summary><c>Errors.CLUSTER_AUTHORIZATION_FAILED</c>.</summary>
    public const string Cluster = "Cluster authorization failed.";

    /// <summary><c>Errors.GROUP_AUTHORIZATION_FAILED</c>.</summary>
    public const string Group = "Group authorization failed.";

    /// <summary><c>Errors.TRANSACTIONAL_ID_AUTHORIZATION_FAILED</c>.</summary>
    public const string TransactionalId = "Transactional Id authorization failed.";

    /// <summary>The <c>ClusterAuthorizationException</c> of Kafka's <c>authorizeClusterOperation</c> (the ACL APIs).</summary>
    public static string ClusterOperation(AclOperation operation) =>
        $"Request requires authorization on cluster for operation {AclBinding.Name(operation)}";
}
