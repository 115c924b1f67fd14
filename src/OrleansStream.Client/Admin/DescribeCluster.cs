namespace OrleansStream.Client.Admin;

public sealed class DescribeClusterOptions : AdminOptions
{
    /// <summary>
    /// Answer <see cref="DescribeClusterResult.AuthorizedOperations"/>: every operation Kafka defines on the cluster,
    /// since an Orleans client is trusted (Kafka's answer without an authorizer).
    /// </summary>
    public bool IncludeAuthorizedOperations { get; set; }
}

/// <summary>
/// Confluent.Kafka's DescribeClusterResult: the cluster id, the controller's node (null when none) and the live brokers'
/// nodes; <see cref="AuthorizedOperations"/> null unless asked for.
/// </summary>
public sealed record DescribeClusterResult(string? ClusterId, Node? Controller, List<Node> Nodes, List<AclOperation>? AuthorizedOperations);
