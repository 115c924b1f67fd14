namespace OrleansStream.Client;

/// <summary>
/// What <c>kafka-consumer-groups.sh --describe</c> shows of a group, per partition: committed offset, log end, lag and
/// owner (<see cref="IAdminClient.ListConsumerGroupOffsetsAsync(string, IEnumerable{TopicPartition}?, TimeSpan?)"/>).
/// </summary>
public sealed record ConsumerGroupLag(string Group, List<ConsumerGroupPartitionOffset> Partitions);
