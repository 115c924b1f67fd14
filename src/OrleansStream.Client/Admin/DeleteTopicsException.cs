namespace OrleansStream.Client.Admin;

public sealed class DeleteTopicsException(IReadOnlyList<TopicReport> results)
    : KafkaException(CreateTopicsException.FirstError(results, "delete"))
{
    public IReadOnlyList<TopicReport> Results { get; } = results;
}
