namespace OrleansStream.Client;

/// <summary>One member of a group: its ids, subscription and the partitions it was given.</summary>
public sealed record MemberDescription(string ConsumerId, string ClientId, List<string> Topics, List<TopicPartition> Assignment);
