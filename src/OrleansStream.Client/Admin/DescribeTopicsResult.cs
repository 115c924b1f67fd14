namespace OrleansStream.Client.Admin;

public sealed record DescribeTopicsResult(IReadOnlyList<TopicDescription> TopicDescriptions);
