namespace OrleansStream.Client.Admin;

public sealed class CreatePartitionsOptions : AdminOptions
{
    public bool ValidateOnly { get; set; }
}
