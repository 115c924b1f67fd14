using Orleans.Concurrency;

namespace OrleansStream;

/// <summary>A topic's partitions named by its topic id, as KIP-848's requests and answers name them.</summary>
[GenerateSerializer, Immutable]
public sealed record TopicIdPartitions(Guid TopicId, IReadOnlyList<int> Partitions);

/// <summary>
/// Kafka's ConsumerGroupHeartbeat (KIP-848): the member's whole state on its first call (member epoch 0), and after
/// that only what changed, each field null (or -1) when unchanged. <paramref name="MemberEpoch"/> -1 leaves the group,
/// -2 leaves it for a static member that comes back within its session. <paramref name="OwnedPartitions"/> are the
/// partitions the member holds now, null when unchanged.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ConsumerGroupHeartbeatRequest(
    string MemberId,
    int MemberEpoch,
    string? InstanceId,
    string? RackId,
    int RebalanceTimeoutMs,
    IReadOnlyList<string>? SubscribedTopicNames,
    string? SubscribedTopicRegex,
    string? ServerAssignor,
    IReadOnlyList<TopicIdPartitions>? OwnedPartitions,
    string ClientId = "",
    string ClientHost = "",
    short ApiVersion = 1,
    string? Principal = null,
    string? PrincipalHost = null);

/// <summary>
/// The answer to a ConsumerGroupHeartbeat: the member's id and epoch, how often to heartbeat, and its assignment when
/// it changed (or the member sent its whole state), null otherwise.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ConsumerGroupHeartbeatResponse(
    ErrorCode Error,
    string? ErrorMessage,
    string? MemberId,
    int MemberEpoch,
    int HeartbeatIntervalMs,
    IReadOnlyList<TopicIdPartitions>? Assignment)
{
    public static ConsumerGroupHeartbeatResponse Failed(ErrorCode error, string message, string? memberId = null, int memberEpoch = 0) =>
        new(error, message, memberId, memberEpoch, 0, null);
}

/// <summary>A topic's partitions with both its id and its name, as ConsumerGroupDescribe answers them.</summary>
[GenerateSerializer, Immutable]
public sealed record NamedTopicIdPartitions(Guid TopicId, string TopicName, IReadOnlyList<int> Partitions);

[GenerateSerializer, Immutable]
public sealed record ConsumerGroupDescribedMember(
    string MemberId,
    string? InstanceId,
    string? RackId,
    int MemberEpoch,
    string ClientId,
    string ClientHost,
    IReadOnlyList<string> SubscribedTopicNames,
    string? SubscribedTopicRegex,
    IReadOnlyList<NamedTopicIdPartitions> Assignment,
    IReadOnlyList<NamedTopicIdPartitions> TargetAssignment,
    bool UsesClassicProtocol = false);

/// <summary>
/// Kafka's ConsumerGroupDescribe for one group: <see cref="ErrorCode.GroupIdNotFound"/> for a group that does not exist
/// or is not a consumer group (a classic group's members use DescribeGroups). <paramref name="GroupState"/> is Kafka's
/// consumer group state: Empty, Assigning, Reconciling, Stable or Dead.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ConsumerGroupDescribeResult(
    string GroupId,
    ErrorCode Error,
    string? ErrorMessage,
    string GroupState,
    int GroupEpoch,
    int AssignmentEpoch,
    string AssignorName,
    IReadOnlyList<ConsumerGroupDescribedMember> Members);
