using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using OrleansStream.Server.Diagnostics;
using OrleansStream.Server.Transactions;

namespace OrleansStream.Server.Tests.Transactions;

/// <summary>
/// A <see cref="TransactionCoordinator"/> on a fake clock with what its grain would do around it: store the record of
/// each write (or fail it), then complete it; reload from what is stored as a new activation would.
/// </summary>
internal sealed class TransactionCoordinatorHarness
{
    public const string TxnId = "txn";
    public const int TimeoutMs = 60_000;

    /// <summary>The instruments of harnesses that do not look at them; a test of the instruments passes its own.</summary>
    private static readonly OrleansStreamMetrics SharedMetrics = NewMetrics();

    public TransactionCoordinatorHarness(Action<TransactionCoordinatorOptions>? configure = null, OrleansStreamMetrics? metrics = null)
    {
        configure?.Invoke(Options);
        Metrics = metrics ?? SharedMetrics;
        Coordinator = Activate();
    }

    public static OrleansStreamMetrics NewMetrics() =>
        new ServiceCollection().AddOrleansStreamMetrics().BuildServiceProvider().GetRequiredService<OrleansStreamMetrics>();

    public OrleansStreamMetrics Metrics { get; }

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    public TransactionCoordinatorOptions Options { get; } = new();

    public InMemoryProducerIdBlockAllocator ProducerIds { get; } = new();

    public TransactionCoordinator Coordinator { get; private set; }

    /// <summary>The record storage holds now; null before the first activation stored one.</summary>
    public TransactionCoordinatorState? Stored { get; private set; }

    public int Writes { get; private set; }

    public long NowMs => Time.GetUtcNow().ToUnixTimeMilliseconds();

    public static TopicPartition P(int partition) => new("t", partition);

    /// <summary>A new activation: stores the bumped coordinator epoch, then loads; the old coordinator object stays usable to show it is stale.</summary>
    public TransactionCoordinator Activate()
    {
        Stored = TransactionStateManager.NextEpoch(Stored);
        var manager = new TransactionStateManager(Options, Time);
        manager.Load(Stored);
        return Coordinator = new TransactionCoordinator(manager, ProducerIds, Metrics.Transactions, NullLogger.Instance);
    }

    /// <summary>The same activation reloads (as after a conflicting write): a bumped epoch stored, then loaded in place.</summary>
    public void Reload()
    {
        Stored = TransactionStateManager.NextEpoch(Stored);
        Coordinator.StateManager.Load(Stored);
    }

    /// <summary>The grain's step: an answer stays as is; a write is stored, then completed, and its answer returned.</summary>
    public TxnOperation Run(TxnOperation operation) => operation.Write is { } write ? Store(write) : operation;

    public TxnOperation Store(PendingTxnTransition write)
    {
        Stored = Coordinator.StateWith(write);
        Writes++;
        return Coordinator.CompleteWrite(write);
    }

    /// <summary>The write lands in storage but its call gives up: the answer is an error, and the activation reloads what is stored.</summary>
    public TxnOperation StoreGivingUp(PendingTxnTransition write)
    {
        Stored = Coordinator.StateWith(write);
        Writes++;
        var answer = Coordinator.FailWrite(write, ErrorCode.RequestTimedOut);
        Activate();
        return answer;
    }

    /// <summary>Initializes the id, rewrites what is stored (as if many transitions had happened) and reactivates on it.</summary>
    public void InitializeStoredAs(Func<StoredTransaction, StoredTransaction> change)
    {
        Assert.Equal(ErrorCode.None, Run(Coordinator.InitProducerId(TxnId, TimeoutMs)).Error);
        Stored!.Transactions[0] = change(Stored.Transactions[0]);
        Activate();
    }

    /// <summary>Begins a transaction: InitProducerId, then the partitions; returns the producer's id and epoch.</summary>
    public ProducerIdAndEpoch BeginTransaction(params int[] partitions)
    {
        var init = Run(Coordinator.InitProducerId(TxnId, TimeoutMs));
        Assert.Equal(ErrorCode.None, init.Error);
        Add(init.ProducerId, init.ProducerEpoch, partitions);
        return new ProducerIdAndEpoch(init.ProducerId, init.ProducerEpoch);
    }

    public void Add(long producerId, short epoch, params int[] partitions)
    {
        var list = new List<TopicPartition>();
        foreach (var p in partitions) list.Add(P(p));
        Assert.Equal(ErrorCode.None, Run(Coordinator.AddPartitionsToTxn(TxnId, producerId, epoch, list)).Error);
    }

    /// <summary>Writes every marker of <paramref name="markers"/> and stores the completion.</summary>
    public TxnOperation WriteAllMarkers(TxnMarkerRequest markers)
    {
        var participants = new List<TxnParticipant>();
        foreach (var m in markers.Markers) participants.Add(m.Participant);
        var complete = Coordinator.OnMarkersWritten(markers, participants);
        Assert.NotNull(complete);
        return Store(complete);
    }

    public TxnTransitMetadata Describe() => Coordinator.Describe(TxnId) ?? throw new InvalidOperationException($"{TxnId} is unknown");
}
