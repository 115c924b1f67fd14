namespace OrleansStream.Client;

/// <summary>A group's state, assignor, generation, leader and members.</summary>
public sealed record ConsumerGroupDescription(
    string GroupId,
    GroupState State,
    string PartitionAssignor,
    int GenerationId,
    string? LeaderId,
    List<MemberDescription> Members,
    Error Error);
