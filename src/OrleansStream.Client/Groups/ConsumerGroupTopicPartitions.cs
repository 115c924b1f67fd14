namespace OrleansStream.Client;

/// <summary>A group and some of its partitions, as Confluent.Kafka's ConsumerGroupTopicPartitions; null partitions: every partition the group committed for.</summary>
public sealed record ConsumerGroupTopicPartitions(string Group, List<TopicPartition>? TopicPartitions);

/// <summary>A group and offsets for some of its partitions, as Confluent.Kafka's ConsumerGroupTopicPartitionOffsets.</summary>
public sealed record ConsumerGroupTopicPartitionOffsets(string Group, List<TopicPartitionOffset> TopicPartitionOffsets);
