using OrleansStream.Client.Admin;

namespace OrleansStream.Client;

internal sealed partial class AdminClient
{
    /// <summary>Every operation Kafka defines on the cluster, in Kafka's order: an Orleans client is trusted with all of them.</summary>
    private static readonly AclOperation[] ClusterOperations =
    [
        AclOperation.Create, AclOperation.ClusterAction, AclOperation.DescribeConfigs, AclOperation.AlterConfigs,
        AclOperation.IdempotentWrite, AclOperation.Alter, AclOperation.Describe,
    ];

    public async Task<DescribeClusterResult> DescribeClusterAsync(DescribeClusterOptions? options = null)
    {
        var cluster = await RetryingCall(_cache.Controller.DescribeCluster, Timeout(options), idempotent: true).ConfigureAwait(false);
        var nodes = new List<Node>(cluster.Nodes.Count);
        Node? controller = null;
        foreach (var n in cluster.Nodes)
        {
            var node = new Node(n.NodeId, n.Host, n.Port, n.Rack) { BrokerId = n.BrokerId };
            nodes.Add(node);
            if (n.NodeId == cluster.ControllerNodeId) controller = node;
        }
        return new DescribeClusterResult(cluster.ClusterId, controller, nodes, options?.IncludeAuthorizedOperations == true ? [.. ClusterOperations] : null);
    }
}
