using OrleansStream.Server.Kafka.Handlers;
using OrleansStream.Server.Security.Authorization;

namespace OrleansStream.Server.Kafka;

/// <summary>
/// Kafka's authorization of the group APIs (<c>KafkaApis</c>): READ on a group to be one of its members or commit to it,
/// DESCRIBE to find its coordinator, describe or list it and fetch its offsets, DELETE to delete it or its offsets; READ
/// on a topic to commit or delete its offsets, DESCRIBE to see them (<see cref="TopicAuthorization"/>). Without an
/// authorizer every check allows and nothing is allocated.
/// </summary>
internal static class GroupAuthorization
{
    /// <summary>Kafka's <c>AclEntry.supportedOperations(GROUP)</c>: READ, DELETE, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS.</summary>
    private static readonly AclOperation[] Operations =
        [AclOperation.Read, AclOperation.Delete, AclOperation.Describe, AclOperation.DescribeConfigs, AclOperation.AlterConfigs];

    /// <summary>Whether the request may do <paramref name="operation"/> on group <paramref name="groupId"/>.</summary>
    public static bool IsAllowedOnGroup(this KafkaRequest request, KafkaAuthorizer authorizer, AclOperation operation, string groupId) =>
        request.IsAllowed(authorizer, operation, AclResourceType.Group, groupId);

    /// <summary>
    /// A group's authorized-operations bit field (DescribeGroups v3+, ConsumerGroupDescribe): the group operations the
    /// principal may do (Kafka's <c>AuthHelper.authorizedOperations</c>); every one without an authorizer.
    /// </summary>
    public static int AuthorizedOperations(this KafkaRequest request, KafkaAuthorizer authorizer, string groupId) =>
        authorizer.IsEnabled
            ? authorizer.AuthorizedOperations(request.Connection.Principal, request.Connection.ClientHost, AclResourceType.Group, groupId, Operations)
            : DescribeGroupsHandler.GroupOperations;
}
