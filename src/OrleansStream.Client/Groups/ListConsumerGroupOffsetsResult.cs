namespace OrleansStream.Client;

public sealed record ListConsumerGroupOffsetsResult(string Group, List<ConsumerGroupPartitionOffset> Partitions);
