namespace OrleansStream.Client;

public sealed record ListConsumerGroupsResult(List<ConsumerGroupListing> Valid);
