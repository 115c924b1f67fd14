using System.Text;
using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;
using OrleansStream.Records;
using OrleansStream.Server.Security.Authorization;

namespace OrleansStream.Server.Kafka.Handlers;

/// <summary>
/// FindCoordinator for a group or a transactional id, one key (v0-3) or a batch of one key type, each answered on its
/// own (v4+, Kafka's <c>handleFindCoordinatorRequestV4AndAbove</c>). Any broker's listener reaches the group's grain
/// and the transaction coordinator's shard grain wherever they live, but every broker names the same one for a key
/// (murmur2 of the key over the live brokers by node id, as Kafka maps a group to its <c>__consumer_offsets</c>
/// partition): a client asking two brokers must not be sent from one coordinator to another, which abandons its
/// in-flight JoinGroup there, and a static member's abandoned join still reaching the group would fence its retry
/// (KIP-345). With an authorizer, DESCRIBE on the group (GroupAuthorizationFailed) or the transactional id
/// (TransactionalIdAuthorizationFailed) comes first, as Kafka's <c>getCoordinator</c> checks it. There are no share
/// groups here (KIP-932): a share key (type 2) is answered as Kafka answers it without a share coordinator,
/// InvalidRequest, after v6's CLUSTER_ACTION check (ClusterAuthorizationFailed for every key, as Kafka's failed
/// request answers).
/// </summary>
internal sealed class FindCoordinatorHandler(KafkaBrokers brokers, KafkaAuthorizer authorizer)
    : KafkaApiHandler<FindCoordinatorRequest>(ApiKey.FindCoordinator, FindCoordinatorRequest.Read)
{
    protected override async ValueTask<bool> AnswerAsync(FindCoordinatorRequest body, KafkaRequest request, KafkaWriter response)
    {
        var keys = request.Version >= FindCoordinatorRequest.FirstBatchedVersion ? body.CoordinatorKeys ?? [] : [body.Key];
        var answers = new FindCoordinatorResult[keys.Count];
        if (body.KeyType == FindCoordinatorRequest.Share && request.Version >= 6 && !request.IsAllowedOnCluster(authorizer, AclOperation.ClusterAction))
        {
            for (var i = 0; i < answers.Length; i++) answers[i] = Refused(keys[i], ErrorCode.ClusterAuthorizationFailed, AuthorizationMessages.Cluster);
        }
        else
        {
            MetadataBroker[]? byNode = null;
            for (var i = 0; i < answers.Length; i++)
            {
                var key = keys[i];
                answers[i] = body.KeyType switch
                {
                    FindCoordinatorRequest.Group when !request.IsAllowedOnGroup(authorizer, AclOperation.Describe, key) =>
                        Refused(key, ErrorCode.GroupAuthorizationFailed, AuthorizationMessages.Group),
                    FindCoordinatorRequest.Transaction when !request.IsAllowedOnTransactionalId(authorizer, AclOperation.Describe, key) =>
                        Refused(key, ErrorCode.TransactionalIdAuthorizationFailed, AuthorizationMessages.TransactionalId),
                    _ => Invalid(body.KeyType, key),
                } ?? Coordinator(key, byNode ??= await BrokersByNodeAsync(request.Connection.ListenerName), request.Connection.ListenerName);
            }
        }
        new FindCoordinatorResponse(answers).Write(response, request.Version);
        return true;
    }

    /// <summary>Why a key has no coordinator before one is looked for; null when it may have one.</summary>
    private static FindCoordinatorResult? Invalid(sbyte keyType, string key)
    {
        if (keyType == FindCoordinatorRequest.Share)
            return Refused(key, ErrorCode.InvalidRequest, "Share groups are not served here (no share coordinator).");
        if (keyType is not (FindCoordinatorRequest.Group or FindCoordinatorRequest.Transaction))
            return Refused(key, ErrorCode.InvalidRequest, $"Unknown coordinator key type {keyType}.");
        if (keyType == FindCoordinatorRequest.Group && !GroupKeys.IsAddressable(key))
            return Refused(key, ErrorCode.InvalidGroupId, "The group id is empty or whitespace.");
        if (key.Length == 0) return Refused(key, ErrorCode.InvalidRequest, "The transactional id is empty.");
        return null;
    }

    private async Task<MetadataBroker[]> BrokersByNodeAsync(string listenerName)
    {
        var view = await brokers.DescribeAsync(listenerName);
        var byNode = new MetadataBroker[view.Brokers.Count];
        for (var i = 0; i < byNode.Length; i++) byNode[i] = view.Brokers[i];
        Array.Sort(byNode, static (a, b) => a.NodeId.CompareTo(b.NodeId));
        return byNode;
    }

    private static FindCoordinatorResult Coordinator(string key, MetadataBroker[] byNode, string listenerName)
    {
        if (byNode.Length == 0) return Refused(key, ErrorCode.CoordinatorNotAvailable, $"No live broker advertises a {listenerName} listener.");
        var coordinator = byNode[Murmur2.Partition(Encoding.UTF8.GetBytes(key), byNode.Length)];
        return new FindCoordinatorResult(key, ErrorCode.None, null, coordinator.NodeId, coordinator.Host, coordinator.Port);
    }

    private static FindCoordinatorResult Refused(string key, ErrorCode error, string message) => new(key, error, message, -1, "", -1);
}
