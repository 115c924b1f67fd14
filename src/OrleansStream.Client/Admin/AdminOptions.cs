namespace OrleansStream.Client.Admin;

public class AdminOptions
{
    /// <summary>Default: the client's <c>request.timeout.ms</c>.</summary>
    public TimeSpan? RequestTimeout { get; set; }
}
