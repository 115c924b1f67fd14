namespace OrleansStream.Server.Diagnostics;

/// <summary>A broker request, named like Kafka's request types (the <c>operation</c> tag of request metrics).</summary>
public enum BrokerOperation
{
    Produce,
    Fetch,
    ReplicaFetch,
    ListOffsets,
    Metadata,
    CreateTopics,
    DeleteTopics,
    CreatePartitions,
    JoinGroup,
    SyncGroup,
    Heartbeat,
    LeaveGroup,
    OffsetCommit,
    OffsetFetch,
}
