namespace OrleansStream.Client.Admin;

public sealed class DescribeConsumerGroupsOptions : AdminOptions
{
    /// <summary>
    /// Answer each group's <see cref="ConsumerGroupDescription.AuthorizedOperations"/>: every operation Kafka defines on a
    /// group, since an Orleans client is trusted (Kafka's answer without an authorizer).
    /// </summary>
    public bool IncludeAuthorizedOperations { get; set; }
}

public sealed record DescribeConsumerGroupsResult(List<ConsumerGroupDescription> ConsumerGroupDescriptions);

/// <summary>Every group's description, those that failed with their <see cref="ConsumerGroupDescription.Error"/>.</summary>
public sealed record DescribeConsumerGroupsReport(List<ConsumerGroupDescription> ConsumerGroupDescriptions);

/// <summary>A group could not be described (GroupIdNotFound, InvalidGroupId ...): every group's description is in <see cref="Results"/>.</summary>
public sealed class DescribeConsumerGroupsException(DescribeConsumerGroupsReport results)
    : KafkaException(AdminReports.FirstError(results.ConsumerGroupDescriptions, static d => ((string?)$"'{d.GroupId}'", d.Error), "describe group"))
{
    public DescribeConsumerGroupsReport Results { get; } = results;
}

/// <summary>
/// A group as Confluent.Kafka's ConsumerGroupDescription describes it. <see cref="Coordinator"/> is null: a group's
/// coordinator is its grain, on whichever silo activates it. Ours besides: the generation (a consumer group's group
/// epoch), the leader (none in a consumer group) and <paramref name="StateName"/>, Kafka's exact state name (a consumer
/// group's Assigning and Reconciling are <see cref="ConsumerGroupState.PreparingRebalance"/> in <see cref="State"/>).
/// </summary>
public sealed record ConsumerGroupDescription(
    string GroupId,
    Error Error,
    bool IsSimpleConsumerGroup,
    string PartitionAssignor,
    ConsumerGroupState State,
    ConsumerGroupType GroupType,
    Node? Coordinator,
    List<MemberDescription> Members,
    List<AclOperation>? AuthorizedOperations,
    int GenerationId = -1,
    string? LeaderId = null,
    string? StateName = null);

/// <summary>
/// One member of a group, as Confluent.Kafka's MemberDescription: <see cref="TargetAssignment"/> is a consumer group's
/// (KIP-848) target for the member, null in a classic group. <see cref="Host"/> is the client's host as the consumer
/// group protocol reports it, empty otherwise. Ours besides: the topics the member subscribes to.
/// </summary>
public sealed record MemberDescription(
    string ClientId,
    string? GroupInstanceId,
    string ConsumerId,
    string Host,
    MemberAssignment Assignment,
    MemberAssignment? TargetAssignment,
    List<string> Topics);

/// <summary>The partitions given to a member, as Confluent.Kafka's MemberAssignment.</summary>
public sealed record MemberAssignment(List<TopicPartition> TopicPartitions);
