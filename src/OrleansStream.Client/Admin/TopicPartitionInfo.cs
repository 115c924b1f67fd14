namespace OrleansStream.Client.Admin;

/// <summary>One partition as described: leader, replicas, in-sync replicas, and the leader's log bounds.</summary>
public sealed record TopicPartitionInfo(
    int Partition,
    int Leader,
    string? LeaderBroker,
    int LeaderEpoch,
    IReadOnlyList<ReplicaInfo> Replicas,
    IReadOnlyList<int> Isr,
    long LogStartOffset,
    long LogEndOffset,
    Error Error);
