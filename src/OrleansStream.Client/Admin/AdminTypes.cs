namespace OrleansStream.Client.Admin;

/// <summary>A topic to create. -1 partitions or replication factor take the broker's defaults.</summary>
public sealed class TopicSpecification
{
    public required string Name { get; set; }

    public int NumPartitions { get; set; } = -1;

    public short ReplicationFactor { get; set; } = -1;

    /// <summary>Topic configs by Kafka's keys (<c>retention.ms</c>, <c>cleanup.policy</c>, ...).</summary>
    public Dictionary<string, string>? Configs { get; set; }
}

public sealed class PartitionsSpecification
{
    public required string Topic { get; set; }

    /// <summary>The new total number of partitions.</summary>
    public int IncreaseTo { get; set; }
}

public class AdminOptions
{
    /// <summary>Default: the client's <c>request.timeout.ms</c>.</summary>
    public TimeSpan? RequestTimeout { get; set; }
}

public sealed class CreateTopicsOptions : AdminOptions
{
    /// <summary>Check the request without creating anything.</summary>
    public bool ValidateOnly { get; set; }
}

public sealed class DeleteTopicsOptions : AdminOptions;

public sealed class CreatePartitionsOptions : AdminOptions
{
    public bool ValidateOnly { get; set; }
}

public sealed class DescribeTopicsOptions : AdminOptions
{
    /// <summary>Also ask each leader for the log start and end offsets (default true).</summary>
    public bool IncludeOffsets { get; set; } = true;
}

/// <summary>The outcome for one topic of an admin request.</summary>
public sealed record TopicReport(string Topic, Error Error);

/// <summary>One partition as described: leader, replicas, in-sync replicas, and the leader's log bounds.</summary>
public sealed record TopicPartitionInfo(
    int Partition,
    int Leader,
    string? LeaderBroker,
    int LeaderEpoch,
    IReadOnlyList<ReplicaInfo> Replicas,
    IReadOnlyList<int> Isr,
    long LogStartOffset,
    long LogEndOffset,
    Error Error);

public sealed record TopicDescription(
    string Name,
    Guid TopicId,
    Error Error,
    IReadOnlyList<TopicPartitionInfo> Partitions,
    IReadOnlyDictionary<string, string> Configs);

public sealed record DescribeTopicsResult(IReadOnlyList<TopicDescription> TopicDescriptions);

/// <summary>Some topics could not be created; <see cref="Results"/> has one report per requested topic.</summary>
public sealed class CreateTopicsException(IReadOnlyList<TopicReport> results)
    : KafkaException(FirstError(results, "create"))
{
    public IReadOnlyList<TopicReport> Results { get; } = results;

    internal static Error FirstError(IReadOnlyList<TopicReport> results, string verb)
    {
        var failed = new List<string>();
        var code = ErrorCode.None;
        foreach (var r in results)
        {
            if (!r.Error.IsError) continue;
            if (code == ErrorCode.None) code = r.Error.Code;
            failed.Add($"'{r.Topic}': {r.Error.Reason}");
        }
        return new Error(code, $"Failed to {verb} {failed.Count} topic(s): {string.Join("; ", failed)}");
    }
}

public sealed class DeleteTopicsException(IReadOnlyList<TopicReport> results)
    : KafkaException(CreateTopicsException.FirstError(results, "delete"))
{
    public IReadOnlyList<TopicReport> Results { get; } = results;
}

public sealed class CreatePartitionsException(IReadOnlyList<TopicReport> results)
    : KafkaException(CreateTopicsException.FirstError(results, "add partitions to"))
{
    public IReadOnlyList<TopicReport> Results { get; } = results;
}

/// <summary>Some topics could not be described; <see cref="Result"/> still has every topic, failures with their error.</summary>
public sealed class DescribeTopicsException(DescribeTopicsResult result)
    : KafkaException(Describe(result))
{
    public DescribeTopicsResult Result { get; } = result;

    private static Error Describe(DescribeTopicsResult result)
    {
        var reports = new List<TopicReport>();
        foreach (var d in result.TopicDescriptions) reports.Add(new TopicReport(d.Name, d.Error));
        return CreateTopicsException.FirstError(reports, "describe");
    }
}
