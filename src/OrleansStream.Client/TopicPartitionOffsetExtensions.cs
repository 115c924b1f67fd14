using OrleansStream.Records;

namespace OrleansStream.Client;

/// <summary>Confluent's shape on the shared position type.</summary>
public static class TopicPartitionOffsetExtensions
{
    extension(TopicPartitionOffset tpo)
    {
        public string Topic => tpo.TopicPartition.Topic;

        public int Partition => tpo.TopicPartition.Partition;
    }
}
