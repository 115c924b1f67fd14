using Microsoft.Extensions.Options;
using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;
using OrleansStream.Server.Cluster;

namespace OrleansStream.Server.Kafka.Handlers;

/// <summary>
/// FindCoordinator for a group or a transactional id: the answering broker itself. The group's grain and the
/// transaction coordinator's shard grain live wherever Orleans placed them and this broker's listener reaches them,
/// so every broker is every group's and every transactional id's coordinator.
/// </summary>
internal sealed class FindCoordinatorHandler(BrokerRegistration registration, IOptions<BrokerOptions> options)
    : KafkaApiHandler<FindCoordinatorRequest>(ApiKey.FindCoordinator, FindCoordinatorRequest.Read)
{
    protected override ValueTask<bool> AnswerAsync(FindCoordinatorRequest body, KafkaRequest request, KafkaWriter response)
    {
        Answer(body, request.Connection.ListenerName).Write(response, request.Version);
        return ValueTask.FromResult(true);
    }

    private FindCoordinatorResponse Answer(FindCoordinatorRequest body, string listenerName)
    {
        if (body.KeyType is not (FindCoordinatorRequest.Group or FindCoordinatorRequest.Transaction))
            return Refused(ErrorCode.InvalidRequest, $"Unknown coordinator key type {body.KeyType}.");
        if (body.Key.Length == 0)
            return body.KeyType == FindCoordinatorRequest.Group
                ? Refused(ErrorCode.InvalidGroupId, "The group id is empty.")
                : Refused(ErrorCode.InvalidRequest, "The transactional id is empty.");
        if (registration.Meta.NodeId is not { } nodeId) return Refused(ErrorCode.CoordinatorNotAvailable, "This broker has not registered yet.");
        foreach (var l in KafkaListeners.Advertised(options.Value))
            if (l.Name == listenerName) return new FindCoordinatorResponse(ErrorCode.None, null, nodeId, l.Host, l.Port);
        return Refused(ErrorCode.CoordinatorNotAvailable, $"This broker advertises no {listenerName} listener.");
    }

    private static FindCoordinatorResponse Refused(ErrorCode error, string message) => new(error, message, -1, "", -1);
}
