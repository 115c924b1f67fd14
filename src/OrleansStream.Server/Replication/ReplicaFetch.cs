using OrleansStream.Records;

namespace OrleansStream.Server.Replication;

/// <summary>
/// A follower's fetch from its leader (Kafka's FetchRequest with a replica id): everything from
/// <paramref name="FetchOffset"/> on, up to the leader's log end. <paramref name="LastFetchedEpoch"/> is the epoch of
/// the follower's last batch, which the leader checks for divergence (KIP-595's way of doing KIP-101).
/// <paramref name="LogStartOffset"/> is the follower's own (Kafka's fetch v5 log_start_offset), from which the leader
/// knows the low watermark a DeleteRecords waits for.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ReplicaFetchRequest(int ReplicaId, string BrokerId, int LeaderEpoch, long FetchOffset, int LastFetchedEpoch, int MaxBytes, int MaxWaitMs,
    long LogStartOffset = -1);

/// <summary>
/// The leader's answer. When <paramref name="DivergingEpoch"/> is not -1 the follower's log diverged: it truncates to
/// <paramref name="DivergingEndOffset"/> (the end of that epoch on the leader) before fetching again. With tiered
/// storage an <see cref="ErrorCode.OffsetOutOfRange"/> carrying <paramref name="LocalLogStartOffset"/> means the
/// offset is only in the tier: the follower restarts there instead of replicating history. The follower owns
/// <paramref name="Records"/> and disposes them after its append.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ReplicaFetchResponse(
    ErrorCode Error,
    long HighWatermark,
    long LogStartOffset,
    long LogEndOffset,
    PooledRecords Records,
    int DivergingEpoch = -1,
    long DivergingEndOffset = -1,
    long LocalLogStartOffset = -1);

/// <summary>What leaders and followers of one partition say to each other; not for clients.</summary>
public interface IReplicaFetchGrain : IGrainWithStringKey
{
    Task<ReplicaFetchResponse> ReplicaFetch(ReplicaFetchRequest request);
}
