namespace OrleansStream.Client.Admin;

public sealed class CreatePartitionsException(IReadOnlyList<TopicReport> results)
    : KafkaException(CreateTopicsException.FirstError(results, "add partitions to"))
{
    public IReadOnlyList<TopicReport> Results { get; } = results;
}
