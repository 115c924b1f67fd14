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
    /// <summary>Whether the request may do <paramref name="operation"/> on group <paramref name="groupId"/>.</summary>
    public static bool IsAllowedOnGroup(this KafkaRequest request, KafkaAuthorizer authorizer, AclOperation operation, string groupId) =>
        request.IsAllowed(authorizer, operation, AclResourceType.Group, groupId);
}
