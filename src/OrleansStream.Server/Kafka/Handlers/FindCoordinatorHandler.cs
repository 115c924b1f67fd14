using System.Text;
using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;
using OrleansStream.Records;
using OrleansStream.Server.Security.Authorization;

namespace OrleansStream.Server.Kafka.Handlers;

/// <summary>
/// FindCoordinator for a group or a transactional id. Any broker's listener reaches the group's grain and the
/// transaction coordinator's shard grain wherever they live, but every broker names the same one for a key (murmur2 of
/// the key over the live brokers by node id, as Kafka maps a group to its <c>__consumer_offsets</c> partition): a
/// client asking two brokers must not be sent from one coordinator to another, which abandons its in-flight JoinGroup
/// there, and a static member's abandoned join still reaching the group would fence its retry (KIP-345). With an
/// authorizer, DESCRIBE on the group (GroupAuthorizationFailed) or the transactional id
/// (TransactionalIdAuthorizationFailed) comes first, as Kafka's <c>getCoordinator</c> checks it.
/// </summary>
internal sealed class FindCoordinatorHandler(KafkaBrokers brokers, KafkaAuthorizer authorizer)
    : KafkaApiHandler<FindCoordinatorRequest>(ApiKey.FindCoordinator, FindCoordinatorRequest.Read)
{
    protected override async ValueTask<bool> AnswerAsync(FindCoordinatorRequest body, KafkaRequest request, KafkaWriter response)
    {
        var refused = body.KeyType switch
        {
            FindCoordinatorRequest.Group when !request.IsAllowedOnGroup(authorizer, AclOperation.Describe, body.Key) =>
                Refused(ErrorCode.GroupAuthorizationFailed, AuthorizationMessages.Group),
            FindCoordinatorRequest.Transaction when !request.IsAllowedOnTransactionalId(authorizer, AclOperation.Describe, body.Key) =>
                Refused(ErrorCode.TransactionalIdAuthorizationFailed, AuthorizationMessages.TransactionalId),
            _ => null,
        };
        (refused ?? await AnswerAsync(body, request.Connection.ListenerName)).Write(response, request.Version);
        return true;
    }

    private async Task<FindCoordinatorResponse> AnswerAsync(FindCoordinatorRequest body, string listenerName)
    {
        if (body.KeyType is not (FindCoordinatorRequest.Group or FindCoordinatorRequest.Transaction))
            return Refused(ErrorCode.InvalidRequest, $"Unknown coordinator key type {body.KeyType}.");
        if (body.KeyType == FindCoordinatorRequest.Group && !GroupKeys.IsAddressable(body.Key))
            return Refused(ErrorCode.InvalidGroupId, "The group id is empty or whitespace.");
        if (body.Key.Length == 0) return Refused(ErrorCode.InvalidRequest, "The transactional id is empty.");
        var view = await brokers.DescribeAsync(listenerName);
        if (view.Brokers.Count == 0) return Refused(ErrorCode.CoordinatorNotAvailable, $"No live broker advertises a {listenerName} listener.");
        var byNode = new MetadataBroker[view.Brokers.Count];
        for (var i = 0; i < byNode.Length; i++) byNode[i] = view.Brokers[i];
        Array.Sort(byNode, static (a, b) => a.NodeId.CompareTo(b.NodeId));
        var coordinator = byNode[Murmur2.Partition(Encoding.UTF8.GetBytes(body.Key), byNode.Length)];
        return new FindCoordinatorResponse(ErrorCode.None, null, coordinator.NodeId, coordinator.Host, coordinator.Port);
    }

    private static FindCoordinatorResponse Refused(ErrorCode error, string message) => new(error, message, -1, "", -1);
}
