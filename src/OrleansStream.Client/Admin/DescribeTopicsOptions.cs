namespace OrleansStream.Client.Admin;

public sealed class DescribeTopicsOptions : AdminOptions
{
    /// <summary>Also ask each leader for the log start and end offsets (default true).</summary>
    public bool IncludeOffsets { get; set; } = true;
}
