namespace OrleansStream.Client.Admin;

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
