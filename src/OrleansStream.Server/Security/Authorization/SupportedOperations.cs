namespace OrleansStream.Server.Security.Authorization;

/// <summary>
/// Kafka's <c>AclEntry.supportedOperations</c>: the operations of each resource type that the authorized-operations
/// fields of Metadata, DescribeCluster, DescribeGroups and ConsumerGroupDescribe report.
/// </summary>
public static class SupportedOperations
{
    private static readonly AclOperation[] s_topic =
    [
        AclOperation.Read, AclOperation.Write, AclOperation.Create, AclOperation.Describe, AclOperation.Delete, AclOperation.Alter,
        AclOperation.DescribeConfigs, AclOperation.AlterConfigs,
    ];

    private static readonly AclOperation[] s_group =
        [AclOperation.Read, AclOperation.Delete, AclOperation.Describe, AclOperation.DescribeConfigs, AclOperation.AlterConfigs];

    private static readonly AclOperation[] s_cluster =
    [
        AclOperation.Create, AclOperation.ClusterAction, AclOperation.DescribeConfigs, AclOperation.AlterConfigs,
        AclOperation.IdempotentWrite, AclOperation.Alter, AclOperation.Describe,
    ];

    private static readonly int s_topicBits = Bits(s_topic);
    private static readonly int s_groupBits = Bits(s_group);
    private static readonly int s_clusterBits = Bits(s_cluster);

    /// <summary>The operations of <paramref name="type"/> (topics, groups and the cluster; none for the others).</summary>
    public static ReadOnlySpan<AclOperation> Of(AclResourceType type) => type switch
    {
        AclResourceType.Topic => s_topic,
        AclResourceType.Group => s_group,
        AclResourceType.Cluster => s_cluster,
        _ => [],
    };

    /// <summary>Every operation of <paramref name="type"/> as a bit field: what the fields say without an authorizer.</summary>
    public static int All(AclResourceType type) => type switch
    {
        AclResourceType.Topic => s_topicBits,
        AclResourceType.Group => s_groupBits,
        AclResourceType.Cluster => s_clusterBits,
        _ => 0,
    };

    private static int Bits(AclOperation[] operations)
    {
        var bits = 0;
        foreach (var operation in operations) bits |= 1 << (int)operation;
        return bits;
    }
}
