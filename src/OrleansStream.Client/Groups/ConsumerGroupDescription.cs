namespace OrleansStream.Client;

/// <summary>
/// A group's state, assignor, generation, leader and members. For a consumer group (KIP-848, <paramref name="GroupType"/>
/// <see cref="ConsumerGroupType.Consumer"/>) the assignor is the coordinator's, the generation its group epoch, there is
/// no leader, and Assigning and Reconciling are <see cref="GroupState.PreparingRebalance"/> (<paramref name="StateName"/>
/// is the exact name).
/// </summary>
public sealed record ConsumerGroupDescription(
    string GroupId,
    GroupState State,
    string PartitionAssignor,
    int GenerationId,
    string? LeaderId,
    List<MemberDescription> Members,
    Error Error,
    ConsumerGroupType GroupType = ConsumerGroupType.Classic,
    string? StateName = null);
