namespace OrleansStream.Client.Admin;

public sealed record TopicDescription(
    string Name,
    Guid TopicId,
    Error Error,
    IReadOnlyList<TopicPartitionInfo> Partitions,
    IReadOnlyDictionary<string, string> Configs);
