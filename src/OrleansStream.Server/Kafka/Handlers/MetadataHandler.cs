using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;
using OrleansStream.Server.Cluster;

namespace OrleansStream.Server.Kafka.Handlers;

/// <summary>
/// Metadata: the live brokers with their advertised address on the client's listener, the cluster id, the
/// controller's node, and each partition's leader as the node of the broker that hosts its leader replica.
/// Auto-creation follows the controller's <c>auto.create.topics.enable</c>. While the controller cannot answer, the
/// broker's <see cref="MetadataCache"/> does, as a Kafka broker answers from its own. From v10 each topic carries its
/// id (KIP-516), and v12 asks by id: the ids are resolved to names as Kafka's <c>handleTopicMetadataRequest</c> does
/// (any id in the request makes it a request by id; an id no topic has is <c>UnknownTopicId</c> with a null name, and
/// an id or a null name before v12 is <c>InvalidRequest</c>).
/// </summary>
internal sealed class MetadataHandler(MetadataCache metadataCache, KafkaBrokers brokers, PartitionLeaders leaders, BrokerRegistration registration)
    : KafkaApiHandler<Protocol.Messages.MetadataRequest>(ApiKey.Metadata, Protocol.Messages.MetadataRequest.Read)
{
    /// <summary>The first version whose request may name topics by id.</summary>
    private const short TopicIdsVersion = 12;

    protected override async ValueTask<bool> AnswerAsync(Protocol.Messages.MetadataRequest body, KafkaRequest request, KafkaWriter response)
    {
        HashSet<Guid>? ids = null;
        List<string>? names = null;
        if (body.Topics is { } requested)
        {
            names = new List<string>(requested.Count);
            foreach (var t in requested)
            {
                if (t.TopicId != Guid.Empty) (ids ??= []).Add(t.TopicId);
                else if (t.Name is { } name) names.Add(name);
                if ((t.Name is null && t.TopicId == Guid.Empty) || (request.Version < TopicIdsVersion && (t.Name is null || t.TopicId != Guid.Empty)))
                {
                    WriteInvalid(requested, request.Version, response);
                    return true;
                }
            }
        }

        var view = brokers.DescribeAsync(request.Connection.ListenerName);
        var topics = new List<MetadataTopic>();
        Dictionary<Guid, string>? resolved = null;
        if (ids is not null)
        {
            // Kafka's rule: a request with any id is a request by id; the names beside them are not looked at.
            resolved = await metadataCache.TopicNamesAsync(ids);
            names = [.. resolved.Values];
            foreach (var id in ids)
                if (!resolved.ContainsKey(id)) topics.Add(UnknownId(id));
        }
        var metadata = ids is not null && names!.Count == 0
            ? new ControllerTopics([], FromCache: false)
            : await metadataCache.TopicsAsync(names, ids is null && body.AllowAutoTopicCreation);
        if (!metadata.FromCache) leaders.Update(metadata.Topics);
        var cluster = await view;

        foreach (var t in metadata.Topics)
        {
            // Asked by id, a name now held by another topic (deleted and created again since) is not the topic asked for.
            if (resolved is not null && (t.Error != ErrorCode.None || !resolved.TryGetValue(t.TopicId, out var asked) || asked != t.Name))
            {
                foreach (var (id, name) in resolved)
                    if (name == t.Name) topics.Add(UnknownId(id));
                continue;
            }
            var partitions = new MetadataPartition[t.Partitions.Count];
            for (var i = 0; i < partitions.Length; i++) partitions[i] = Describe(t.Partitions[i], cluster);
            topics.Add(new MetadataTopic(t.Error, t.Name, IsInternal: false, partitions, t.Error == ErrorCode.None ? t.TopicId : Guid.Empty));
        }
        new Protocol.Messages.MetadataResponse(cluster.Brokers, registration.Meta.ClusterId, cluster.ControllerId, topics).Write(response, request.Version);
        return true;
    }

    private static MetadataTopic UnknownId(Guid id) => new(ErrorCode.UnknownTopicId, null, IsInternal: false, [], id);

    /// <summary>Kafka's answer to a request it cannot read (<c>MetadataRequest.getErrorResponse</c>): each topic asked, with the error, and no brokers.</summary>
    private static void WriteInvalid(IReadOnlyList<MetadataRequestTopic> requested, short version, KafkaWriter response)
    {
        var topics = new List<MetadataTopic>(requested.Count);
        foreach (var t in requested) topics.Add(new MetadataTopic(ErrorCode.InvalidRequest, t.Name ?? "", IsInternal: false, [], t.TopicId));
        new Protocol.Messages.MetadataResponse([], null, -1, topics).Write(response, version);
    }

    private static MetadataPartition Describe(PartitionMetadata p, KafkaBrokerView cluster)
    {
        var replicas = new int[p.Replicas.Count];
        var offline = new List<int>();
        for (var r = 0; r < replicas.Length; r++)
        {
            replicas[r] = cluster.NodeId(p.Replicas[r].BrokerId);
            if (!cluster.Listed.Contains(p.Replicas[r].BrokerId)) offline.Add(replicas[r]);
        }
        var isr = new int[p.Isr.Count];
        for (var i = 0; i < isr.Length; i++)
            isr[i] = (uint)p.Isr[i] < (uint)replicas.Length ? replicas[p.Isr[i]] : -1;
        var leaderBroker = p.LeaderBroker;
        var leaderListed = leaderBroker is not null && cluster.Listed.Contains(leaderBroker);
        var error = p.Error != ErrorCode.None ? p.Error : leaderListed ? ErrorCode.None : ErrorCode.LeaderNotAvailable;
        return new MetadataPartition(error, p.Partition, leaderListed ? cluster.NodeId(leaderBroker) : -1, p.LeaderEpoch, replicas, isr, [.. offline]);
    }
}

/// <summary>
/// DescribeCluster (KIP-700): the live brokers on the client's listener, the controller's node (-1 when it is not one
/// of them) and the cluster id, as Metadata gives them. Asked for, the cluster's authorized operations are every
/// operation Kafka defines on a cluster: there are no ACLs (Kafka's answer without an authorizer). v1's endpoint type
/// (KIP-919) is answered as a Kafka broker answers it (<c>computeDescribeClusterResponse</c>): brokers are described,
/// controllers are MismatchedEndpointType (a broker is no controller endpoint), any other type UnsupportedEndpointType.
/// </summary>
internal sealed class DescribeClusterHandler(KafkaBrokers brokers, BrokerRegistration registration)
    : KafkaApiHandler<DescribeClusterRequest>(ApiKey.DescribeCluster, DescribeClusterRequest.Read)
{
    // Kafka's AclOperation codes of AclEntry.supportedOperations(CLUSTER): CREATE 5, ALTER 7, DESCRIBE 8, CLUSTER_ACTION 9,
    // DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11, IDEMPOTENT_WRITE 12.
    private const int ClusterOperations = 1 << 5 | 1 << 7 | 1 << 8 | 1 << 9 | 1 << 10 | 1 << 11 | 1 << 12;

    protected override async ValueTask<bool> AnswerAsync(DescribeClusterRequest body, KafkaRequest request, KafkaWriter response)
    {
        if (body.EndpointType != DescribeClusterRequest.Brokers)
        {
            var (error, message) = body.EndpointType == DescribeClusterRequest.Controllers
                ? (ErrorCode.MismatchedEndpointType, "The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER")
                : (ErrorCode.UnsupportedEndpointType, $"Unsupported endpoint type {body.EndpointType}");
            new DescribeClusterResponse(error, message, "", -1, [], int.MinValue).Write(response, request.Version);
            return true;
        }
        var cluster = await brokers.DescribeAsync(request.Connection.ListenerName);
        var controllerListed = false;
        foreach (var b in cluster.Brokers) controllerListed |= b.NodeId == cluster.ControllerId;
        new DescribeClusterResponse(ErrorCode.None, null, registration.Meta.ClusterId ?? "", controllerListed ? cluster.ControllerId : -1, cluster.Brokers,
            body.IncludeClusterAuthorizedOperations ? ClusterOperations : int.MinValue).Write(response, request.Version);
        return true;
    }
}
