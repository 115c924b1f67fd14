namespace OrleansStream.Client.Admin;

public sealed class CreateTopicsOptions : AdminOptions
{
    /// <summary>Check the request without creating anything.</summary>
    public bool ValidateOnly { get; set; }
}
