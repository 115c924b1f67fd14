using Microsoft.Extensions.Options;
using Orleans.Runtime;

namespace OrleansStream.Server.Transactions;

/// <summary>
/// Keeps every coordinator shard active, so that an open transaction whose producer died is aborted when it times out
/// and a stored PrepareCommit or PrepareAbort gets its markers, even when no client calls the shard (Kafka gets this
/// from the leader election of <c>__transaction_state</c> partitions). Each silo wakes shards 0..n-1 when it starts,
/// whenever membership changes (a silo died and its shards with it), and every
/// <c>transaction.abort.timed.out.transaction.cleanup.interval.ms</c> as a safety net; waking an active shard costs one
/// interleaved call.
/// </summary>
internal sealed partial class TransactionCoordinatorWaker(
    IClusterMembershipService membership,
    IGrainFactory grains,
    IOptions<TransactionCoordinatorOptions> options,
    TimeProvider time,
    ILogger<TransactionCoordinatorWaker> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    private readonly CancellationTokenSource _stopping = new();
    private Task? _run;

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(TransactionCoordinatorWaker), ServiceLifecycleStage.Active, OnStart, OnStop);

    private Task OnStart(CancellationToken ct)
    {
        _run = Task.WhenAll(Task.Run(WakeOnMembershipChangesAsync), Task.Run(WakePeriodicallyAsync));
        return Task.CompletedTask;
    }

    private async Task OnStop(CancellationToken ct)
    {
        _stopping.Cancel();
        if (_run is { } run) await run.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private async Task WakeOnMembershipChangesAsync()
    {
        try
        {
            // The first snapshot is the one this silo starts with: waking then is the start-up wake.
            await foreach (var _ in membership.MembershipUpdates.WithCancellation(_stopping.Token))
                await WakeAllAsync();
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
    }

    private async Task WakePeriodicallyAsync()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(options.Value.TransactionAbortTimedOutTransactionCleanupIntervalMs), time);
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token))
                await WakeAllAsync();
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
    }

    private async Task WakeAllAsync()
    {
        var shards = options.Value.TransactionStateLogNumPartitions;
        var calls = new Task<int>[shards];
        for (var shard = 0; shard < shards; shard++) calls[shard] = grains.GetGrain<ITransactionCoordinatorShardGrain>(shard).Wake();
        try
        {
            await Task.WhenAll(calls);
        }
        catch (Exception e) when (!_stopping.IsCancellationRequested)
        {
            // The next membership change or tick wakes again.
            LogWakeFailed(e);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Waking the transaction coordinator shards failed; retried on the next change or tick")]
    private partial void LogWakeFailed(Exception e);
}
