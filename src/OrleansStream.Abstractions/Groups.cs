using Orleans.Concurrency;

namespace OrleansStream;

/// <summary>
/// Kafka's group coordinator for one group (classic protocol), keyed by group id: membership, generations,
/// rebalances and the group's committed offsets (the <c>__consumer_offsets</c> role).
/// Grains return error codes (<see cref="ErrorCode"/>) rather than throw, as Kafka's responses do.
/// </summary>
public interface IConsumerGroupGrain : IGrainWithStringKey
{
    /// <summary>Long-polls until the rebalance completes, so it interleaves with every other call.</summary>
    [AlwaysInterleave]
    Task<JoinGroupResponse> JoinGroup(JoinGroupRequest request);

    /// <summary>Followers wait here for the leader's assignment, so it interleaves too.</summary>
    [AlwaysInterleave]
    Task<SyncGroupResponse> SyncGroup(SyncGroupRequest request);

    [AlwaysInterleave]
    Task<GroupResponse> Heartbeat(HeartbeatRequest request);

    Task<GroupResponse> LeaveGroup(LeaveGroupRequest request);

    /// <summary>
    /// Kafka's LeaveGroup request as a whole (v3+ names several members, KIP-345): each member leaves and is answered on
    /// its own; a group whose removal is being stored (Kafka's Dead group) answers the request
    /// <see cref="ErrorCode.CoordinatorNotAvailable"/> and no member, as Kafka does.
    /// </summary>
    Task<LeaveGroupMembersResponse> LeaveGroupMembers(IReadOnlyList<LeaveGroupRequest> members);

    /// <summary>
    /// Kafka's OffsetCommit, validated per group as Kafka's coordinator does. The committer is checked first
    /// (generation, member, a group whose removal is being stored): a refusal there commits nothing and is the
    /// request's error. Then each partition is checked on its own (<see cref="ErrorCode.UnknownTopicOrPartition"/>,
    /// <see cref="ErrorCode.OffsetMetadataTooLarge"/>): a refused one has its error in
    /// <see cref="OffsetCommitResponse.Partitions"/> while the others are committed and listed with
    /// <see cref="ErrorCode.None"/> (the request's error is then the first refusal's). A controller that cannot be asked
    /// which partitions exist refuses every partition with <see cref="ErrorCode.CoordinatorNotAvailable"/>. The offsets
    /// taken are stored in one write, so a failed write commits none of them (<see cref="ErrorCode.CoordinatorNotAvailable"/>).
    /// Interleaves so that concurrent commits share one storage write (group commit); it re-checks the group after every await.
    /// </summary>
    [AlwaysInterleave]
    Task<OffsetCommitResponse> OffsetCommit(OffsetCommitRequest request);

    /// <summary>
    /// Kafka's TxnOffsetCommit: offsets held pending for the producer until its transaction's marker reaches the group.
    /// Interleaves like <see cref="OffsetCommit"/>.
    /// </summary>
    [AlwaysInterleave]
    Task<OffsetCommitResponse> TxnOffsetCommit(TxnOffsetCommitRequest request);

    [AlwaysInterleave]
    Task<OffsetFetchResponse> OffsetFetch(OffsetFetchRequest request);

    [AlwaysInterleave]
    Task<GroupDescription> Describe();

    /// <summary>
    /// Kafka's ConsumerGroupHeartbeat (KIP-848): joins, heartbeats, reconciles and leaves a consumer group, whose
    /// assignment the coordinator computes. A group whose members use the classic protocol answers
    /// <see cref="ErrorCode.GroupIdNotFound"/>, as Kafka's does for a group that is not a consumer group.
    /// </summary>
    Task<ConsumerGroupHeartbeatResponse> ConsumerGroupHeartbeat(ConsumerGroupHeartbeatRequest request);

    /// <summary>Kafka's ConsumerGroupDescribe for this group (KIP-848).</summary>
    [AlwaysInterleave]
    Task<ConsumerGroupDescribeResult> DescribeConsumerGroup();

    /// <summary>Admin: overwrite committed offsets; only while the group has no members (<see cref="ErrorCode.NonEmptyGroup"/>).</summary>
    Task<OffsetCommitResponse> ResetOffsets(IReadOnlyList<OffsetToCommit> offsets);

    /// <summary>Admin: remove an empty group and its offsets (<see cref="ErrorCode.NonEmptyGroup"/>, <see cref="ErrorCode.GroupIdNotFound"/>).</summary>
    Task<GroupResponse> DeleteGroup();

    /// <summary>
    /// Admin, Kafka's OffsetDelete: the committed offsets of <paramref name="partitions"/> go, except those of topics the
    /// group's members subscribe to (<see cref="ErrorCode.GroupSubscribedToTopic"/> each); <see cref="ErrorCode.GroupIdNotFound"/>
    /// for a group that does not exist. A group left with no members and no offsets is removed, as in Kafka.
    /// </summary>
    Task<DeleteOffsetsResponse> DeleteOffsets(IReadOnlyList<TopicPartition> partitions);

    /// <summary>
    /// Kafka's group configs (KIP-848, the GROUP config resource): the overrides set for this group, empty when none.
    /// They are kept apart from the group's metadata, so they can be set before the group exists and outlive its
    /// deletion, as Kafka's (stored in its metadata log) do.
    /// </summary>
    [AlwaysInterleave]
    Task<IReadOnlyDictionary<string, string>> GetConfigs();

    /// <summary>
    /// Kafka's AlterConfigs (<paramref name="incremental"/> false: the overrides become exactly these) and
    /// IncrementalAlterConfigs for this group, checked as Kafka's <c>GroupConfig.validate</c> does against the broker's
    /// <c>group.consumer.*</c> bounds: <see cref="ErrorCode.InvalidConfig"/> for an unknown name or a value that is not
    /// allowed, <see cref="ErrorCode.InvalidRequest"/> for a repeated name, a null value or an unknown op. The group's
    /// members heartbeat with the new values from their next heartbeat on.
    /// </summary>
    Task<GroupResponse> AlterConfigs(IReadOnlyList<AlterableConfig> configs, bool incremental, bool validateOnly);
}

/// <summary>The cluster's list of consumer groups, one activation keyed <see cref="GroupKeys.Directory"/>; groups register themselves.</summary>
public interface IConsumerGroupDirectoryGrain : IGrainWithStringKey
{
    Task Register(string groupId);

    Task Unregister(string groupId);

    [AlwaysInterleave]
    Task<IReadOnlyList<string>> List();
}

public static class GroupKeys
{
    /// <summary>The key of the single <see cref="IConsumerGroupDirectoryGrain"/>.</summary>
    public const string Directory = "groups";

    /// <summary>Kafka's consumer protocol type, the one whose metadata and assignments the coordinator reads.</summary>
    public const string ConsumerProtocolType = "consumer";

    /// <summary>Kafka's group type of a group whose members use the classic protocol (ListGroups v5).</summary>
    public const string ClassicGroupType = "classic";

    /// <summary>Kafka's group type of a group whose members use the consumer protocol (KIP-848).</summary>
    public const string ConsumerGroupType = "consumer";

    /// <summary>
    /// Whether a group id can be a group's grain key: Orleans refuses an empty or whitespace-only key, so such a group id
    /// is answered <see cref="ErrorCode.InvalidGroupId"/> by every group API (Kafka takes the empty one for offsets
    /// only, and a whitespace one as any other).
    /// </summary>
    public static bool IsAddressable(string? groupId) => !string.IsNullOrWhiteSpace(groupId);
}

/// <summary>Kafka's group states (<c>GroupState</c> in the classic coordinator), same names.</summary>
public enum GroupState
{
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
    Dead,
}

/// <summary>
/// Kafka's ConsumerProtocolSubscription: the topics a member wants, the partitions it owns now (the cooperative
/// protocol needs them) and the generation they were assigned in. <paramref name="Encoded"/> is the protocol metadata
/// as a Kafka client sent it in JoinGroup (null from our SDK): a Kafka coordinator hands those bytes to the leader and
/// to DescribeGroups unchanged, and a client may read only the version it wrote (sarama 1.22 fails on any byte past
/// its v0), so the Kafka listener answers them, not a re-encoding.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ConsumerProtocolSubscription(
    IReadOnlyList<string> Topics,
    IReadOnlyList<TopicPartition> OwnedPartitions,
    int GenerationId = -1,
    byte[]? UserData = null,
    byte[]? Encoded = null);

/// <summary>
/// Kafka's ConsumerProtocolAssignment: the partitions one member gets. <paramref name="Encoded"/> is the assignment
/// as a Kafka client leader sent it in SyncGroup (null from our SDK), handed to its member unchanged as Kafka does.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ConsumerProtocolAssignment(IReadOnlyList<TopicPartition> Partitions, byte[]? UserData = null, byte[]? Encoded = null)
{
    public static ConsumerProtocolAssignment Empty { get; } = new([]);
}

/// <summary>One assignor a member supports (<paramref name="Name"/>, e.g. "range") with its subscription.</summary>
[GenerateSerializer, Immutable]
public sealed record JoinGroupProtocol(string Name, ConsumerProtocolSubscription Metadata);

/// <summary>
/// Kafka's JoinGroup. <paramref name="MemberId"/> is empty on the first join; the coordinator issues one.
/// <paramref name="Protocols"/> are in the member's order of preference. <paramref name="RequireKnownMemberId"/> is
/// Kafka's <c>requireKnownMemberId</c>: a first dynamic join is answered with <c>MemberIdRequired</c> (KIP-394) only
/// when set; clients of JoinGroup v0-3 know no such round and join at once. <paramref name="SupportsSkippingAssignment"/>
/// is Kafka's <c>supportsSkippingAssignment</c> (JoinGroup v9, KIP-814): a returning static leader of a stable group is
/// answered as the leader, with the members, and told to skip the assignment; without it, as a follower.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record JoinGroupRequest(
    string MemberId,
    string ClientId,
    int SessionTimeoutMs,
    int RebalanceTimeoutMs,
    string ProtocolType,
    IReadOnlyList<JoinGroupProtocol> Protocols,
    string? Reason = null,
    string? GroupInstanceId = null,
    bool RequireKnownMemberId = true,
    bool SupportsSkippingAssignment = false);

[GenerateSerializer, Immutable]
public sealed record JoinGroupMember(string MemberId, string ClientId, ConsumerProtocolSubscription Metadata, string? GroupInstanceId = null);

/// <summary>
/// The outcome of a rebalance for one member: the generation, the chosen protocol, the leader, and (to the leader
/// only) every member's subscription. <paramref name="MemberId"/> is set even on some errors so a new member keeps it.
/// <paramref name="SkipAssignment"/> (KIP-814): the leader keeps the current generation's assignment and sends none.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record JoinGroupResponse(
    ErrorCode Error,
    int GenerationId,
    string? ProtocolName,
    string LeaderId,
    string MemberId,
    IReadOnlyList<JoinGroupMember> Members,
    string? ErrorMessage = null,
    bool SkipAssignment = false)
{
    public bool IsLeader => Error == ErrorCode.None && LeaderId == MemberId;
}

/// <summary>
/// Kafka's SyncGroup; only the leader sends <paramref name="Assignments"/> (member id → its share). A
/// <paramref name="ProtocolType"/> or <paramref name="ProtocolName"/> that is given (SyncGroup v5, KIP-559) must be the
/// group's, else InconsistentGroupProtocol.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record SyncGroupRequest(
    string MemberId,
    int GenerationId,
    IReadOnlyDictionary<string, ConsumerProtocolAssignment>? Assignments = null,
    string? GroupInstanceId = null,
    string? ProtocolType = null,
    string? ProtocolName = null);

/// <summary>A member's assignment, with the group's protocol type and name when it has one (null on an error).</summary>
[GenerateSerializer, Immutable]
public sealed record SyncGroupResponse(
    ErrorCode Error,
    ConsumerProtocolAssignment? Assignment,
    string? ErrorMessage = null,
    string? ProtocolType = null,
    string? ProtocolName = null);

[GenerateSerializer, Immutable]
public sealed record HeartbeatRequest(string MemberId, int GenerationId, string? GroupInstanceId = null);

/// <summary>Kafka's LeaveGroup for one member; a <paramref name="GroupInstanceId"/> with an empty member id removes that static member.</summary>
[GenerateSerializer, Immutable]
public sealed record LeaveGroupRequest(string MemberId, string? Reason = null, string? GroupInstanceId = null);

/// <summary>The answer to a LeaveGroup request: its error, and when it has none each member's answer in the request's order.</summary>
[GenerateSerializer, Immutable]
public sealed record LeaveGroupMembersResponse(ErrorCode Error, IReadOnlyList<GroupResponse> Members, string? ErrorMessage = null);

/// <summary>The answer to Heartbeat, LeaveGroup and admin calls.</summary>
[GenerateSerializer, Immutable]
public sealed record GroupResponse(ErrorCode Error, string? ErrorMessage = null)
{
    public static GroupResponse Ok { get; } = new(ErrorCode.None);
}

/// <summary>
/// One offset to commit: the position of the next record to consume, with optional metadata and the leader epoch
/// of the last consumed record (-1 when unknown).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record OffsetToCommit(TopicPartition TopicPartition, long Offset, string? Metadata = null, int LeaderEpoch = -1);

/// <summary>
/// Kafka's OffsetCommit. A group member sends its member id and generation; a consumer that only assigns partitions
/// by hand (or an admin) sends an empty member id and generation -1, which the group accepts only while it has no members.
/// A generation named to a group that does not exist is <see cref="ErrorCode.IllegalGeneration"/>, or
/// <see cref="ErrorCode.GroupIdNotFound"/> with <paramref name="Version9OrLater"/> (Kafka's answer from OffsetCommit v9).
/// A consumer group's (KIP-848) member commits with its member epoch as <paramref name="GenerationId"/>, and only with
/// <paramref name="Version9OrLater"/> (<see cref="ErrorCode.UnsupportedVersion"/> otherwise, as Kafka).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record OffsetCommitRequest(
    string MemberId, int GenerationId, IReadOnlyList<OffsetToCommit> Offsets, string? GroupInstanceId = null, bool Version9OrLater = false);

[GenerateSerializer, Immutable]
public sealed record PartitionError(TopicPartition TopicPartition, ErrorCode Error, string? ErrorMessage = null);

/// <summary>
/// <paramref name="Error"/> is <see cref="ErrorCode.None"/> only when every offset was committed. A refusal of the
/// request (the member, its generation, storage) commits nothing, and
/// <paramref name="Partitions"/> names the partitions at fault, if any. Kafka's per-partition refusals (a partition
/// that does not exist, metadata too large) refuse those partitions alone: the others are committed, and
/// <paramref name="Partitions"/> has every partition asked with its own error (<see cref="ErrorCode.None"/> when committed).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record OffsetCommitResponse(ErrorCode Error, IReadOnlyList<PartitionError> Partitions, string? ErrorMessage = null);

/// <summary>OffsetDelete's answer: <paramref name="Partitions"/> has every partition asked, each with its error.</summary>
[GenerateSerializer, Immutable]
public sealed record DeleteOffsetsResponse(ErrorCode Error, IReadOnlyList<PartitionError> Partitions, string? ErrorMessage = null);

/// <summary>
/// <paramref name="Partitions"/> null asks for every committed offset of the group. <paramref name="RequireStable"/>
/// (Kafka's require_stable, KIP-447): answer <see cref="ErrorCode.UnstableOffsetCommit"/> while any partition asked
/// has offsets pending in an open transaction, so a consumer does not start from an offset about to change.
/// <paramref name="MemberId"/> and <paramref name="MemberEpoch"/> (OffsetFetch v9) are checked against a consumer
/// group's member (KIP-848: <see cref="ErrorCode.UnknownMemberId"/>, <see cref="ErrorCode.StaleMemberEpoch"/>); a null
/// member id with a negative epoch (an admin, a classic consumer) is not checked.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record OffsetFetchRequest(IReadOnlyList<TopicPartition>? Partitions = null, bool RequireStable = false, string? MemberId = null, int MemberEpoch = -1);

/// <summary>A committed offset; <paramref name="Offset"/> is -1 when the group has none for the partition.</summary>
[GenerateSerializer, Immutable]
public sealed record CommittedOffset(TopicPartition TopicPartition, long Offset, string? Metadata, int LeaderEpoch, long CommitTimestampMs);

[GenerateSerializer, Immutable]
public sealed record OffsetFetchResponse(ErrorCode Error, IReadOnlyList<CommittedOffset> Offsets, string? ErrorMessage = null);

[GenerateSerializer, Immutable]
public sealed record GroupMemberDescription(
    string MemberId,
    string ClientId,
    IReadOnlyList<string> Topics,
    ConsumerProtocolAssignment Assignment,
    string? GroupInstanceId = null,
    ConsumerProtocolSubscription? Subscription = null);

/// <summary>
/// Kafka's DescribeGroups for one group. A group that does not exist answers <see cref="ErrorCode.GroupIdNotFound"/>
/// with state <see cref="GroupState.Dead"/>.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record GroupDescription(
    string GroupId,
    ErrorCode Error,
    GroupState State,
    string ProtocolType,
    string? Protocol,
    int GenerationId,
    string? LeaderId,
    IReadOnlyList<GroupMemberDescription> Members,
    string Type = GroupKeys.ClassicGroupType,
    string? StateName = null)
{
    /// <summary>The state's name as Kafka lists it: the classic state, or a consumer group's (Assigning, Reconciling...).</summary>
    public string StateText => StateName ?? State.ToString();
}
