namespace OrleansStream.Client;

/// <summary>
/// A group's state as Confluent.Kafka's ConsumerGroupState (its codes, Kafka's classic state names). A consumer group's
/// (KIP-848) Assigning and Reconciling are <see cref="PreparingRebalance"/>; listings and descriptions carry the exact name.
/// </summary>
public enum ConsumerGroupState
{
    Unknown = 0,
    PreparingRebalance = 1,
    CompletingRebalance = 2,
    Stable = 3,
    Dead = 4,
    Empty = 5,
}
