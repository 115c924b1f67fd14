using OrleansStream.Client.Admin;

namespace OrleansStream.Client;

public partial interface IAdminClient
{
    /// <summary>
    /// Kafka's Admin.describeCluster (Confluent.Kafka's DescribeClusterAsync): the cluster id, the controller's node and
    /// each live broker's node id with the first Kafka listener it advertises (a Kafka broker answers with the
    /// endpoints of the listener the request came on; the SDK comes through the gateway, on none).
    /// </summary>
    Task<DescribeClusterResult> DescribeClusterAsync(DescribeClusterOptions? options = null);
}
