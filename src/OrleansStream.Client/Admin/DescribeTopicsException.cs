namespace OrleansStream.Client.Admin;

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
