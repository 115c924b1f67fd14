namespace OrleansStream.Client;

/// <summary>Admin client settings.</summary>
public class AdminClientConfig : Config
{
    public AdminClientConfig() { }

    public AdminClientConfig(IEnumerable<KeyValuePair<string, string>> config) : base(config) { }
}
