namespace OrleansStream.Client;

/// <summary>How a rebalance hands partitions over (Confluent's <c>RebalanceProtocol</c>).</summary>
public enum RebalanceProtocol
{
    /// <summary>Every member gives up everything before the group rebalances, then gets its new share.</summary>
    Eager,

    /// <summary>Members keep what stays theirs and give up only what moves (KIP-429).</summary>
    Cooperative,
}
