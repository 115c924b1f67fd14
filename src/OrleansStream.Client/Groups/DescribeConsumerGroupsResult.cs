namespace OrleansStream.Client;

public sealed record DescribeConsumerGroupsResult(List<ConsumerGroupDescription> ConsumerGroupDescriptions);
