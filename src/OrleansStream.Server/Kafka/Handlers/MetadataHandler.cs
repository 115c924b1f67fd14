using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;
using OrleansStream.Server.Cluster;

namespace OrleansStream.Server.Kafka.Handlers;

/// <summary>
/// Metadata: the live brokers with their advertised address on the client's listener, the cluster id, the
/// controller's node, and each partition's leader as the node of the broker that hosts its leader replica.
/// Auto-creation follows the controller's <c>auto.create.topics.enable</c>. While the controller cannot answer, the
/// broker's <see cref="MetadataCache"/> does, as a Kafka broker answers from its own.
/// </summary>
internal sealed class MetadataHandler(MetadataCache metadataCache, KafkaBrokers brokers, PartitionLeaders leaders, BrokerRegistration registration)
    : KafkaApiHandler<Protocol.Messages.MetadataRequest>(ApiKey.Metadata, Protocol.Messages.MetadataRequest.Read)
{
    protected override async ValueTask<bool> AnswerAsync(Protocol.Messages.MetadataRequest body, KafkaRequest request, KafkaWriter response)
    {
        var view = brokers.DescribeAsync(request.Connection.ListenerName);
        var metadata = await metadataCache.TopicsAsync(body.Topics, body.AllowAutoTopicCreation);
        if (!metadata.FromCache) leaders.Update(metadata.Topics);
        var cluster = await view;

        var topics = new List<MetadataTopic>(metadata.Topics.Count);
        foreach (var t in metadata.Topics)
        {
            var partitions = new MetadataPartition[t.Partitions.Count];
            for (var i = 0; i < partitions.Length; i++) partitions[i] = Describe(t.Partitions[i], cluster);
            topics.Add(new MetadataTopic(t.Error, t.Name, IsInternal: false, partitions));
        }
        new Protocol.Messages.MetadataResponse(cluster.Brokers, registration.Meta.ClusterId, cluster.ControllerId, topics).Write(response, request.Version);
        return true;
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
