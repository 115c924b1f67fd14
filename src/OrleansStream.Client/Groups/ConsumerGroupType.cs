namespace OrleansStream.Client;

/// <summary>Which protocol a group's members speak, as Confluent.Kafka's <c>ConsumerGroupType</c> (KIP-848).</summary>
public enum ConsumerGroupType
{
    Unknown,

    /// <summary>Kafka's consumer group protocol (KIP-848): the coordinator assigns.</summary>
    Consumer,

    /// <summary>Kafka's classic protocol: JoinGroup and SyncGroup, a leader member assigns.</summary>
    Classic,
}
