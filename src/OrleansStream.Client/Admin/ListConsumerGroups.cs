namespace OrleansStream.Client.Admin;

/// <summary>
/// Which groups ListConsumerGroupsAsync lists, as Confluent.Kafka's (ListGroups v4's states filter, v5's types filter,
/// KIP-518 and KIP-848): only groups in one of <see cref="MatchStates"/> and of one of <see cref="MatchTypes"/>; either
/// null or empty matches all.
/// </summary>
public sealed class ListConsumerGroupsOptions : AdminOptions
{
    public IEnumerable<ConsumerGroupState>? MatchStates { get; set; }

    public IEnumerable<ConsumerGroupType>? MatchTypes { get; set; }
}

public sealed record ListConsumerGroupsResult(List<ConsumerGroupListing> Valid);

/// <summary>The groups listed, and an error for each group that could not be asked its state (Confluent.Kafka's per-broker errors).</summary>
public sealed record ListConsumerGroupsReport(List<ConsumerGroupListing> Valid, List<Error> Errors);

/// <summary>Some groups could not be asked: <see cref="Results"/> has the others and each error.</summary>
public sealed class ListConsumerGroupsException(ListConsumerGroupsReport report)
    : KafkaException(AdminReports.FirstError(report.Errors, static e => e, "list groups"))
{
    public ListConsumerGroupsReport Results { get; } = report;
}

/// <summary>A group as Confluent.Kafka's ConsumerGroupListing lists it; <paramref name="StateName"/> (ours) is Kafka's exact state name.</summary>
public sealed record ConsumerGroupListing(
    string GroupId, ConsumerGroupState State, ConsumerGroupType Type, bool IsSimpleConsumerGroup, string? StateName = null);
