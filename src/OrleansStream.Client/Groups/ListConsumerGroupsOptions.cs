using OrleansStream.Client.Admin;

namespace OrleansStream.Client;

/// <summary>
/// Which groups <see cref="IAdminClient.ListConsumerGroupsAsync(ListConsumerGroupsOptions)"/> lists, as Confluent.Kafka's
/// <c>ListConsumerGroupsOptions</c> (and ListGroups v4's states filter, v5's types filter, KIP-518 and KIP-848): only
/// groups in one of <see cref="MatchStates"/> and of one of <see cref="MatchTypes"/>; either null or empty matches all.
/// A consumer group's (KIP-848) Assigning and Reconciling states are <see cref="GroupState.PreparingRebalance"/> here.
/// </summary>
public sealed class ListConsumerGroupsOptions : AdminOptions
{
    public IEnumerable<GroupState>? MatchStates { get; set; }

    public IEnumerable<ConsumerGroupType>? MatchTypes { get; set; }
}
