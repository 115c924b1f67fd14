namespace OrleansStream.Client;

/// <summary>
/// A group as <see cref="IAdminClient.ListConsumerGroupsAsync"/> lists it. A consumer group's (KIP-848) Assigning and
/// Reconciling states are <see cref="GroupState.PreparingRebalance"/> here; <paramref name="StateName"/> is the exact name.
/// </summary>
public sealed record ConsumerGroupListing(
    string GroupId, GroupState State, bool IsSimpleConsumerGroup, ConsumerGroupType Type = ConsumerGroupType.Classic, string? StateName = null);
