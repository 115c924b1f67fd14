namespace OrleansStream.Server.Groups;

/// <summary>
/// What a group persists: its generation, its members and their assignment, and its committed offsets (Kafka keeps all
/// of it in <c>__consumer_offsets</c>).
/// </summary>
[GenerateSerializer]
public sealed class ConsumerGroupState
{
    [Id(0)] public int GenerationId { get; set; }

    [Id(1)] public List<StoredOffset> Offsets { get; set; } = [];

    /// <summary>When the group last became empty (ms since the epoch), -1 while it has members; offsets expire from here.</summary>
    [Id(2)] public long EmptySinceMs { get; set; } = -1;

    /// <summary>Whether the group is listed in the <see cref="IConsumerGroupDirectoryGrain"/>.</summary>
    [Id(3)] public bool Registered { get; set; }

    [Id(4)] public string? ProtocolName { get; set; }

    /// <summary>Per transactional producer: its last epochs and the offsets its open transaction holds pending until the marker.</summary>
    [Id(5)] public List<StoredTxnOffsets> TxnOffsets { get; set; } = [];

    /// <summary>The members as last stored; null while the group has none.</summary>
    [Id(6)] public StoredGroupMembership? Membership { get; set; }

    /// <summary>Kafka's <c>protocolType</c> of the group (null: stored before it was kept, when only consumers joined).</summary>
    [Id(7)] public string? ProtocolType { get; set; }

    /// <summary>The consumer group (KIP-848) as last stored: epochs, members, their partitions and targets; null when it never was one.</summary>
    [Id(8)] public Consumer.StoredConsumerGroup? ConsumerGroup { get; set; }
}

/// <summary>
/// A group's configs (KIP-848, <see cref="GroupConfigs"/>), stored apart from <see cref="ConsumerGroupState"/>: they may
/// be set before the group exists and outlive its removal, as Kafka's, kept in its metadata log, do.
/// </summary>
[GenerateSerializer]
public sealed class GroupConfigState
{
    [Id(0)] public Dictionary<string, string> Configs { get; set; } = [];
}

/// <summary>
/// Kafka's <c>GroupMetadataValue</c>: what a new coordinator needs to take the group over without a rebalance.
/// <paramref name="Rebalancing"/> says the members were rebalancing when it was stored (one left, or a generation
/// was being assigned): the coordinator that loads it finishes that rebalance with them.
/// </summary>
[GenerateSerializer]
public sealed record StoredGroupMembership(int GenerationId, string? ProtocolName, string? LeaderId, bool Rebalancing, List<StoredGroupMember> Members);

/// <summary>Kafka's <c>MemberMetadata</c> in a <c>GroupMetadataValue</c>: a member's identity, timeouts, protocols and assignment.</summary>
[GenerateSerializer]
public sealed record StoredGroupMember(
    string MemberId,
    string ClientId,
    string? GroupInstanceId,
    int SessionTimeoutMs,
    int RebalanceTimeoutMs,
    List<JoinGroupProtocol> Protocols,
    ConsumerProtocolAssignment Assignment);

/// <summary>
/// A committed (or pending transactional) offset. <paramref name="WriteOrder"/> stands for the position of its record in
/// Kafka's <c>__consumer_offsets</c>: the marker of a transaction commits a pending offset only over one written before it.
/// </summary>
[GenerateSerializer]
public sealed record StoredOffset(string Topic, int Partition, long Offset, string? Metadata, int LeaderEpoch, long CommitTimestampMs, long WriteOrder = 0);

/// <summary>
/// A transactional producer's state in a group (Kafka keeps its pending offsets in <c>__consumer_offsets</c> as a
/// transactional batch): the producer and coordinator epochs of its last TxnOffsetCommit or marker, and the offsets
/// pending until the marker.
/// </summary>
[GenerateSerializer]
public sealed record StoredTxnOffsets(long ProducerId, short ProducerEpoch, int CoordinatorEpoch, List<StoredOffset> Pending, long LastUpdateMs);

[GenerateSerializer]
public sealed class ConsumerGroupDirectoryState
{
    [Id(0)] public List<string> Groups { get; set; } = [];
}
