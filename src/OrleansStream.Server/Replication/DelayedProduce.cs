namespace OrleansStream.Server.Replication;

/// <summary>
/// Kafka's DelayedProduce: an acks=all produce parked until every in-sync replica has its last offset. It ends with
/// <see cref="ErrorCode.None"/> when the high watermark passes <see cref="RequiredOffset"/>, with
/// <see cref="ErrorCode.RequestTimedOut"/> when its timeout fires first or it is given up (a silo left the cluster, see
/// <see cref="Cluster.SiloDepartures"/>), or with the error that stopped the leader.
/// The timer fires on a pool thread and only completes the task; the awaiting grain resumes on its own turn, where the
/// <see cref="Partition"/> forgets the produce.
/// </summary>
internal sealed class DelayedProduce : TaskCompletionSource<ErrorCode>
{
    private ITimer? _timeout;
    private CancellationTokenRegistration _giveUp;

    public DelayedProduce(long requiredOffset, int timeoutMs, TimeProvider time, CancellationToken giveUp = default)
        : base(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        RequiredOffset = requiredOffset;
        TimeoutMs = timeoutMs;
        if (timeoutMs <= 0)
        {
            TrySetResult(ErrorCode.RequestTimedOut);
            return;
        }
        _timeout = time.CreateTimer(static self => ((DelayedProduce)self!).TrySetResult(ErrorCode.RequestTimedOut), this,
            TimeSpan.FromMilliseconds(timeoutMs), Timeout.InfiniteTimeSpan);
        _giveUp = giveUp.Register(static self => ((DelayedProduce)self!).TrySetResult(ErrorCode.RequestTimedOut), this);
    }

    /// <summary>The high watermark that completes it: one past the append's last offset.</summary>
    public long RequiredOffset { get; }

    public int TimeoutMs { get; }

    public void Complete(ErrorCode error)
    {
        _timeout?.Dispose();
        _giveUp.Dispose();
        TrySetResult(error);
    }
}
