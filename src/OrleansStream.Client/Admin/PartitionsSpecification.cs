namespace OrleansStream.Client.Admin;

public sealed class PartitionsSpecification
{
    public required string Topic { get; set; }

    /// <summary>The new total number of partitions.</summary>
    public int IncreaseTo { get; set; }
}
