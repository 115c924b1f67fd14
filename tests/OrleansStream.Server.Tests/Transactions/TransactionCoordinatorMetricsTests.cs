using System.Diagnostics.Metrics;
using OrleansStream.Server.Transactions;
using static OrleansStream.Server.Tests.Transactions.TransactionCoordinatorHarness;

namespace OrleansStream.Server.Tests.Transactions;

/// <summary>
/// The coordinator counts each decision once it is durable: in its stored <see cref="TransactionCoordinatorStats"/>
/// (which a new activation loads) and on the <c>orleansstream.transaction.*</c> instruments, seen here through a
/// <see cref="MeterListener"/>.
/// </summary>
public sealed class TransactionCoordinatorMetricsTests : IDisposable
{
    private readonly TransactionCoordinatorHarness _h = new(metrics: NewMetrics());
    private readonly MeterListener _listener = new();
    private readonly List<(string Instrument, double Value, KeyValuePair<string, object?>[] Tags)> _measurements = [];

    public TransactionCoordinatorMetricsTests()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter, _h.Metrics.Meter)) listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => _measurements.Add((i.Name, v, tags.ToArray())));
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => _measurements.Add((i.Name, v, tags.ToArray())));
        _listener.Start();
    }

    private TransactionCoordinator C => _h.Coordinator;

    private TransactionCoordinatorStats Stats => C.StateManager.Stats;

    [Fact]
    public void Only_a_new_producer_instance_on_an_initialized_id_counts_as_a_fencing()
    {
        var first = _h.Run(C.InitProducerId(TxnId, TimeoutMs));
        Assert.Equal(0, Stats.InitProducerIdFencings);

        // KIP-360: the producer bumps its own epoch after an abortable error; nobody else is fenced.
        Assert.Equal(ErrorCode.None, _h.Run(C.InitProducerId(TxnId, TimeoutMs, new ProducerIdAndEpoch(first.ProducerId, first.ProducerEpoch))).Error);
        Assert.Equal(0, Stats.InitProducerIdFencings);

        Assert.Equal(ErrorCode.None, _h.Run(C.InitProducerId(TxnId, TimeoutMs)).Error);

        Assert.Equal(TransactionCoordinatorStats.None with { InitProducerIdFencings = 1 }, Stats);
        Assert.Equal(1, Sum("orleansstream.transaction.fencings", "reason", "init_producer_id"));
        Assert.Equal(1, Sum("orleansstream.transaction.fencings"));
        Assert.Equal(Stats, _h.Stored!.Stats);
    }

    [Fact]
    public void InitProducerId_on_an_open_transaction_counts_a_fenced_abort_then_the_retry_one_fencing()
    {
        _h.BeginTransaction(0);

        var fence = _h.Run(C.InitProducerId(TxnId, TimeoutMs));
        Assert.Equal(ErrorCode.ConcurrentTransactions, fence.Error);
        Assert.Equal(TransactionCoordinatorStats.None with { FencedAborts = 1 }, Stats);
        _h.WriteAllMarkers(fence.Markers!);
        Assert.Equal(ErrorCode.None, _h.Run(C.InitProducerId(TxnId, TimeoutMs)).Error);

        Assert.Equal(TransactionCoordinatorStats.None with { FencedAborts = 1, InitProducerIdFencings = 1 }, Stats);
        Assert.Equal(1, Sum("orleansstream.transaction.aborts", "cause", "fenced"));
        Assert.Equal(1, Sum("orleansstream.transaction.aborts"));
        Assert.Equal(1, Sum("orleansstream.transaction.fencings", "reason", "init_producer_id"));
        Assert.Empty(Values("orleansstream.transaction.commit.duration"));
    }

    [Fact]
    public void A_timed_out_transaction_counts_a_timeout_abort_and_a_timeout_fencing()
    {
        _h.BeginTransaction(0);
        _h.Time.Advance(TimeSpan.FromMilliseconds(TimeoutMs + 1));

        var aborted = _h.Store(Assert.Single(C.AbortTimedOutTransactions()));
        _h.WriteAllMarkers(aborted.Markers!);

        Assert.Equal(TransactionCoordinatorStats.None with { TimeoutAborts = 1, TimeoutFencings = 1 }, Stats);
        Assert.Equal(1, Sum("orleansstream.transaction.aborts", "cause", "timeout"));
        Assert.Equal(1, Sum("orleansstream.transaction.fencings", "reason", "timeout"));
        Assert.Equal(0, Sum("orleansstream.transaction.fencings", "reason", "init_producer_id"));
    }

    [Fact]
    public void EndTxn_counts_a_commit_at_PrepareCommit_and_its_latency_at_CompleteCommit_and_an_abort_by_the_client()
    {
        var producer = _h.BeginTransaction(0, 1);
        var commit = _h.Run(C.EndTxn(TxnId, producer.ProducerId, producer.Epoch, TransactionResult.Commit));
        Assert.Equal(TransactionCoordinatorStats.None with { Commits = 1 }, Stats);
        Assert.Equal(1, Sum("orleansstream.transaction.commits"));
        Assert.Empty(Values("orleansstream.transaction.commit.duration"));

        _h.Time.Advance(TimeSpan.FromMilliseconds(250));
        _h.WriteAllMarkers(commit.Markers!);
        Assert.Equal(0.25, Assert.Single(Values("orleansstream.transaction.commit.duration")), precision: 6);

        _h.Add(producer.ProducerId, producer.Epoch, 0);
        var abort = _h.Run(C.EndTxn(TxnId, producer.ProducerId, producer.Epoch, TransactionResult.Abort));
        _h.WriteAllMarkers(abort.Markers!);
        // A retried EndTxn after completion is answered, not counted again.
        Assert.Equal(ErrorCode.None, _h.Run(C.EndTxn(TxnId, producer.ProducerId, producer.Epoch, TransactionResult.Abort)).Error);

        Assert.Equal(TransactionCoordinatorStats.None with { Commits = 1, ClientAborts = 1 }, Stats);
        Assert.Equal(1, Sum("orleansstream.transaction.aborts", "cause", "client"));
        Assert.Single(Values("orleansstream.transaction.commit.duration"));
    }

    [Fact]
    public void Counts_are_stored_with_the_decision_so_a_new_activation_keeps_them_and_a_failed_write_counts_nothing()
    {
        var producer = _h.BeginTransaction(0);
        var end = C.EndTxn(TxnId, producer.ProducerId, producer.Epoch, TransactionResult.Commit);
        C.FailWrite(end.Write!, ErrorCode.CoordinatorNotAvailable);
        Assert.Equal(TransactionCoordinatorStats.None, Stats);
        Assert.Equal(0, Sum("orleansstream.transaction.commits"));

        // The write lands but its call gives up: storage holds the commit and its count, which the reload takes.
        _h.StoreGivingUp(C.EndTxn(TxnId, producer.ProducerId, producer.Epoch, TransactionResult.Commit).Write!);
        Assert.Equal(TransactionCoordinatorStats.None with { Commits = 1 }, Stats);
        _h.WriteAllMarkers(Assert.Single(C.PendingMarkers()));
        _h.Activate();

        Assert.Equal(TransactionCoordinatorStats.None with { Commits = 1 }, Stats);
        Assert.Equal(Stats, _h.Stored!.Stats);
    }

    [Fact]
    public void A_record_stored_before_any_count_loads_as_none()
    {
        _h.Run(C.InitProducerId(TxnId, TimeoutMs));
        _h.Stored!.Stats = null;

        _h.Activate();

        Assert.Equal(TransactionCoordinatorStats.None, Stats);
    }

    [Fact]
    public void Recording_allocates_nothing()
    {
        var metrics = NewMetrics();
        long seen = 0;
        using var quiet = new MeterListener();
        quiet.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter, metrics.Meter)) listener.EnableMeasurementEvents(instrument);
        };
        quiet.SetMeasurementEventCallback<long>((_, v, _, _) => Interlocked.Add(ref seen, v));
        quiet.SetMeasurementEventCallback<double>((_, _, _, _) => Interlocked.Increment(ref seen));
        quiet.Start();
        var transactions = metrics.Transactions;
        var decisions = Enum.GetValues<TxnDecision>();
        RecordEach(transactions, decisions);

        Assert.Equal(0, ThreadAllocations.Least(_ =>
        {
            for (var i = 0; i < 1_000; i++) RecordEach(transactions, decisions);
        }));
        // Two per timeout abort (an abort and a fencing), none for None, one for the others; two markers and a retry.
        Assert.Equal((1 + ThreadAllocations.Windows * 1_000) * (decisions.Length + 4), seen);
    }

    private static void RecordEach(Diagnostics.TransactionCoordinatorMetrics transactions, TxnDecision[] decisions)
    {
        foreach (var decision in decisions) transactions.Decided(decision);
        transactions.MarkerWritten(TransactionResult.Commit);
        transactions.MarkerWritten(TransactionResult.Abort);
        transactions.MarkerRetried();
        transactions.CommitCompleted(TimeSpan.FromMilliseconds(3));
    }

    private List<double> Values(string instrument) => [.. _measurements.Where(m => m.Instrument == instrument).Select(m => m.Value)];

    private double Sum(string instrument, string? tag = null, string? value = null) =>
        _measurements.Where(m => m.Instrument == instrument && (tag is null || m.Tags.Any(t => t.Key == tag && Equals(t.Value, value)))).Sum(m => m.Value);

    public void Dispose() => _listener.Dispose();
}
