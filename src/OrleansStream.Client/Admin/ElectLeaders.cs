namespace OrleansStream.Client.Admin;

public sealed class ElectLeadersOptions : AdminOptions;

/// <summary>One partition's outcome, as Confluent.Kafka's TopicPartitionError.</summary>
public sealed record TopicPartitionError(TopicPartition TopicPartition, Error Error);

/// <summary>The elections' outcomes, one per partition (every partition asked, or those that needed one when none were named).</summary>
public sealed record ElectLeadersResult(List<TopicPartitionError> TopicPartitions);

public sealed record ElectLeadersReport(Error Error, List<TopicPartitionError> TopicPartitions);

/// <summary>Any partition's election failed (ElectionNotNeeded included, as Confluent.Kafka reports it): every partition's outcome is in <see cref="Results"/>.</summary>
public sealed class ElectLeadersException(ElectLeadersReport results)
    : KafkaException(FirstError(results))
{
    public ElectLeadersReport Results { get; } = results;

    private static Error FirstError(ElectLeadersReport report)
    {
        foreach (var p in report.TopicPartitions)
            if (p.Error.IsError) return new Error(p.Error.Code, $"Leader election of {p.TopicPartition} failed: {p.Error.Reason}");
        return report.Error;
    }
}
