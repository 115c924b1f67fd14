using System.Diagnostics.Metrics;
using OrleansStream.Server.Transactions;

namespace OrleansStream.Server.Diagnostics;

/// <summary>
/// The transaction coordinators' instruments on a host (<see cref="OrleansStreamMetrics.Transactions"/>): decisions
/// (commits, aborts by cause, producer fencings by reason) when their transition is stored, COMMIT/ABORT markers written
/// and retried, and the commit latency from EndTxn to CompleteCommit. Tags are built once; everything is recorded once
/// per transition or marker call, never per record.
/// </summary>
public sealed class TransactionCoordinatorMetrics
{
    // From one in-process marker round (a few ms) to a marker phase that waits out a leader election or a silo restart.
    private static readonly double[] CommitBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

    private static readonly KeyValuePair<string, object?> ClientCause = new("cause", "client");
    private static readonly KeyValuePair<string, object?> TimeoutCause = new("cause", "timeout");
    private static readonly KeyValuePair<string, object?> FencedCause = new("cause", "fenced");
    private static readonly KeyValuePair<string, object?> InitProducerIdReason = new("reason", "init_producer_id");
    private static readonly KeyValuePair<string, object?> TimeoutReason = new("reason", "timeout");
    private static readonly KeyValuePair<string, object?> CommitResult = new("transaction.result", "commit");
    private static readonly KeyValuePair<string, object?> AbortResult = new("transaction.result", "abort");

    private readonly Counter<long> _commits;
    private readonly Counter<long> _aborts;
    private readonly Counter<long> _fencings;
    private readonly Counter<long> _markersWritten;
    private readonly Counter<long> _markerRetries;
    private readonly Histogram<double> _commitDuration;

    internal TransactionCoordinatorMetrics(Meter meter)
    {
        _commits = meter.CreateCounter<long>("orleansstream.transaction.commits", "{transaction}",
            "Transactions committed: EndTxn(commit) stored as PrepareCommit, Kafka's commit point.");
        _aborts = meter.CreateCounter<long>("orleansstream.transaction.aborts", "{transaction}",
            "Transactions aborted, by cause: client (EndTxn(abort)), timeout (transaction.timeout.ms), fenced (an InitProducerId found it open).");
        _fencings = meter.CreateCounter<long>("orleansstream.transaction.fencings", "{fencing}",
            "Producer epochs fenced by a bump, by reason: init_producer_id (a new producer instance on an initialized transactional id), timeout.");
        _markersWritten = meter.CreateCounter<long>("orleansstream.transaction.markers.written", "{marker}",
            "COMMIT/ABORT markers acknowledged by a partition leader or a group, by transaction.result.");
        _markerRetries = meter.CreateCounter<long>("orleansstream.transaction.marker.retries", "{attempt}",
            "Marker writes that failed or were refused and are retried with back-off.");
        _commitDuration = meter.CreateHistogram<double>("orleansstream.transaction.commit.duration", "s",
            "Time from EndTxn(commit) to the stored CompleteCommit: the PrepareCommit write, every marker, the completion write.",
            tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = CommitBuckets });
    }

    internal void Decided(TxnDecision decision)
    {
        switch (decision)
        {
            case TxnDecision.Commit:
                _commits.Add(1);
                break;
            case TxnDecision.ClientAbort:
                _aborts.Add(1, ClientCause);
                break;
            case TxnDecision.TimeoutAbort:
                _aborts.Add(1, TimeoutCause);
                _fencings.Add(1, TimeoutReason);
                break;
            case TxnDecision.FencedAbort:
                _aborts.Add(1, FencedCause);
                break;
            case TxnDecision.InitProducerIdFencing:
                _fencings.Add(1, InitProducerIdReason);
                break;
        }
    }

    internal void CommitCompleted(TimeSpan sinceEndTxn) => _commitDuration.Record(sinceEndTxn.TotalSeconds);

    internal void MarkerWritten(TransactionResult result) => _markersWritten.Add(1, result == TransactionResult.Commit ? CommitResult : AbortResult);

    internal void MarkerRetried() => _markerRetries.Add(1);
}
