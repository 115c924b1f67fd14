namespace OrleansStream.Client;

/// <summary>A group as <see cref="IAdminClient.ListConsumerGroupsAsync"/> lists it.</summary>
public sealed record ConsumerGroupListing(string GroupId, GroupState State, bool IsSimpleConsumerGroup);
