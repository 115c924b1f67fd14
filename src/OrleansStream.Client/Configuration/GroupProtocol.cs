namespace OrleansStream.Client;

/// <summary>Which group protocol a consumer speaks (<c>group.protocol</c>), as Confluent.Kafka's <c>GroupProtocol</c>.</summary>
public enum GroupProtocol
{
    /// <summary>Kafka's classic protocol: JoinGroup and SyncGroup, a leader member assigns (the default).</summary>
    Classic,

    /// <summary>Kafka's consumer group protocol (KIP-848): heartbeats only, the coordinator assigns with its server assignor.</summary>
    Consumer,
}
