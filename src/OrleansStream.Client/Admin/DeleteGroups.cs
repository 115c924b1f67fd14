namespace OrleansStream.Client.Admin;

public sealed class DeleteGroupsOptions : AdminOptions;

/// <summary>One group's outcome of DeleteGroupsAsync, as Confluent.Kafka's DeleteGroupReport.</summary>
public sealed record DeleteGroupReport(string Group, Error Error);

/// <summary>A group could not be deleted: every group's outcome is in <see cref="Results"/>.</summary>
public sealed class DeleteGroupsException(List<DeleteGroupReport> results)
    : KafkaException(AdminReports.FirstError(results, static r => ((string?)$"'{r.Group}'", r.Error), "delete group"))
{
    public List<DeleteGroupReport> Results { get; } = results;
}
