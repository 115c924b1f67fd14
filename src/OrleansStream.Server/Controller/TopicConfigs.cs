namespace OrleansStream.Server.Controller;

/// <summary>Validates a topic's config overrides: server keys here, every other key by the log engine's parser.</summary>
internal static class TopicConfigs
{
    public static string? Validate(Dictionary<string, string> configs)
    {
        foreach (var (key, value) in configs)
            if (TopicRules.ValidateServerConfig(key, value) is { } error) return error;
        return null;
    }
}
