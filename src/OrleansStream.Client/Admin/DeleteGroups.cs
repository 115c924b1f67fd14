namespace OrleansStream.Client.Admin;

public sealed class DeleteGroupsOptions : AdminOptions;

/// <summary>One group's outcome of DeleteGroupsAsync, as Confluent.Kafka's DeleteGroupReport.</summary>
public sealed record DeleteGroupReport(string Group, Error Error);

/// <summary>A group could not be deleted: every group's outcome is in <see cref="Results"/>.</summary>
public sealed class DeleteGroupsException(List<DeleteGroupReport> results)
    : KafkaException(FirstFailure(results))
{
    public List<DeleteGroupReport> Results { get; } = results;

    private static Error FirstFailure(List<DeleteGroupReport> reports)
    {
        foreach (var r in reports)
            if (r.Error.IsError) return new Error(r.Error.Code, $"DeleteGroups of '{r.Group}' failed: {r.Error.Reason}");
        return Error.NoError;
    }
}
