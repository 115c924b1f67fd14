using System.Collections.Immutable;
using OrleansStream.Storage.Producers;

namespace OrleansStream.Server.Transactions;

/// <summary>
/// Kafka's TransactionStateManager without the log: the metadata of every transactional id this coordinator owns
/// (one id or a shard of them), the coordinator epoch it was loaded under, the conversion to and from the stored
/// record, and the scans for timed-out transactions and expired ids. Not thread-safe.
/// </summary>
internal sealed class TransactionStateManager(TransactionCoordinatorOptions options, TimeProvider time)
{
    private readonly Dictionary<string, TransactionMetadata> _transactions = new(StringComparer.Ordinal);

    /// <summary>The epoch of this load; -1 before <see cref="Load"/>. Writes prepared under an older one are stale.</summary>
    public int CoordinatorEpoch { get; private set; } = -1;

    public bool IsLoaded => CoordinatorEpoch >= 0;

    public int Count => _transactions.Count;

    public long NowMs => time.GetUtcNow().ToUnixTimeMilliseconds();

    public TransactionCoordinatorOptions Options => options;

    /// <summary>The decisions stored so far (<see cref="Record"/> adds each durable one).</summary>
    public TransactionCoordinatorStats Stats { get; private set; } = TransactionCoordinatorStats.None;

    /// <summary>
    /// The record an activation stores before it serves anything: <paramref name="stored"/> (null when nothing was
    /// stored) with the coordinator epoch bumped. Once it is durable, <see cref="Load"/> it; a stale activation's
    /// later writes then conflict, and its markers carry the lower epoch.
    /// </summary>
    public static TransactionCoordinatorState NextEpoch(TransactionCoordinatorState? stored) => new()
    {
        CoordinatorEpoch = (stored?.CoordinatorEpoch ?? -1) + 1,
        Transactions = stored?.Transactions ?? [],
        Stats = stored?.Stats,
    };

    /// <summary>
    /// Takes over <paramref name="stored"/>, already stored under its bumped epoch (<see cref="NextEpoch"/>), and
    /// starts the marker phase of every transaction stored in PrepareCommit or PrepareAbort. Replaces whatever was
    /// loaded: writes prepared before become stale.
    /// </summary>
    public void Load(TransactionCoordinatorState stored)
    {
        ArgumentNullException.ThrowIfNull(stored);
        var coordinatorEpoch = stored.CoordinatorEpoch;
        if (coordinatorEpoch <= CoordinatorEpoch)
            throw new ArgumentOutOfRangeException(nameof(stored), coordinatorEpoch, $"coordinator epoch must be above the loaded epoch {CoordinatorEpoch}");
        _transactions.Clear();
        CoordinatorEpoch = coordinatorEpoch;
        Stats = stored.Stats ?? TransactionCoordinatorStats.None;
        foreach (var t in stored.Transactions)
        {
            var participants = ImmutableHashSet.CreateBuilder<TxnParticipant>();
            foreach (var p in t.Partitions) participants.Add(TxnParticipant.Of(p));
            foreach (var g in t.Groups) participants.Add(TxnParticipant.OfGroup(g));
            var metadata = new TransactionMetadata(t.TransactionalId, t.ProducerId, t.LastProducerId, t.ProducerEpoch, t.LastProducerEpoch,
                t.TxnTimeoutMs, t.State, participants.ToImmutable(), t.TxnStartTimestamp, t.TxnLastUpdateTimestamp, t.ClientTransactionVersion,
                t.NextProducerId ?? ProducerSequence.NoProducerId);
            if (t.State is TransactionState.PrepareCommit or TransactionState.PrepareAbort)
                metadata.Markers = new TxnMarkerRequest(t.TransactionalId, coordinatorEpoch, metadata.Current());
            _transactions[t.TransactionalId] = metadata;
        }
    }

    public TransactionMetadata? Get(string transactionalId) => _transactions.GetValueOrDefault(transactionalId);

    /// <summary>Kafka's putTransactionStateIfNotExists: in memory only until its first transition is durable.</summary>
    public void Add(TransactionMetadata metadata) => _transactions.Add(metadata.TransactionalId, metadata);

    public void Remove(string transactionalId) => _transactions.Remove(transactionalId);

    public IEnumerable<TransactionMetadata> All => _transactions.Values;

    /// <summary>
    /// Kafka's partitionFor: the shard owning <paramref name="transactionalId"/>, from Java's String.hashCode (stable
    /// across processes and the same as Kafka's, unlike <see cref="string.GetHashCode()"/>) through Kafka's Utils.abs.
    /// </summary>
    public static int PartitionFor(string transactionalId, int transactionStateLogNumPartitions)
    {
        ArgumentNullException.ThrowIfNull(transactionalId);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(transactionStateLogNumPartitions);
        var hash = 0;
        foreach (var c in transactionalId) hash = unchecked(31 * hash + c);
        // Kafka's Utils.abs: int.MinValue becomes 0, not itself.
        return (hash == int.MinValue ? 0 : Math.Abs(hash)) % transactionStateLogNumPartitions;
    }

    /// <summary>Kafka's validateTransactionTimeoutMs: positive and at most <c>transaction.max.timeout.ms</c>.</summary>
    public bool ValidateTransactionTimeoutMs(int txnTimeoutMs) => txnTimeoutMs > 0 && txnTimeoutMs <= options.TransactionMaxTimeoutMs;

    /// <summary>Kafka's timedOutTransactions: open transactions past their <c>transaction.timeout.ms</c>, none with a transition pending.</summary>
    public List<TransactionMetadata> TimedOutTransactions()
    {
        var now = NowMs;
        var result = new List<TransactionMetadata>();
        foreach (var metadata in _transactions.Values)
            if (!metadata.PendingTransitionInProgress && metadata.State == TransactionState.Ongoing
                && metadata.TxnStartTimestamp + metadata.TxnTimeoutMs < now)
                result.Add(metadata);
        return result;
    }

    /// <summary>Ids at rest for <c>transactional.id.expiration.ms</c>, none with a transition pending.</summary>
    public List<TransactionMetadata> ExpiredTransactionalIds()
    {
        var now = NowMs;
        var result = new List<TransactionMetadata>();
        foreach (var metadata in _transactions.Values)
            if (!metadata.PendingTransitionInProgress && TransactionStates.IsExpirationAllowed(metadata.State)
                && metadata.ProducerEpoch != ProducerSequence.NoProducerEpoch
                && metadata.TxnLastUpdateTimestamp <= now - options.TransactionalIdExpirationMs)
                result.Add(metadata);
        return result;
    }

    /// <summary>
    /// The record to store for <paramref name="writes"/>: every id's state in force, with each write's transition in
    /// place of its id's (an expired id left out). Ids never made durable (no epoch yet) are left out. The caller
    /// stores one such record at a time, so each includes every transition completed before it.
    /// </summary>
    public TransactionCoordinatorState ToState(IReadOnlyCollection<PendingTxnTransition> writes)
    {
        var stats = Stats;
        foreach (var write in writes) stats = Counted(stats, write.Decision);
        var state = new TransactionCoordinatorState { CoordinatorEpoch = CoordinatorEpoch, Stats = stats };
        foreach (var (id, metadata) in _transactions)
        {
            var transit = FindWrite(writes, id)?.Transit ?? metadata.Current();
            if (transit.TxnState == TransactionState.Dead || transit.ProducerEpoch == ProducerSequence.NoProducerEpoch)
                continue;
            state.Transactions.Add(ToStored(id, transit));
        }
        return state;
    }

    /// <summary>A write that decided <paramref name="decision"/> is durable: count it (the record it was stored in already did).</summary>
    public void Record(TxnDecision decision) => Stats = Counted(Stats, decision);

    private static TransactionCoordinatorStats Counted(TransactionCoordinatorStats stats, TxnDecision decision) => decision switch
    {
        TxnDecision.None => stats,
        TxnDecision.Commit => stats with { Commits = stats.Commits + 1 },
        TxnDecision.ClientAbort => stats with { ClientAborts = stats.ClientAborts + 1 },
        TxnDecision.TimeoutAbort => stats with { TimeoutAborts = stats.TimeoutAborts + 1, TimeoutFencings = stats.TimeoutFencings + 1 },
        TxnDecision.FencedAbort => stats with { FencedAborts = stats.FencedAborts + 1 },
        TxnDecision.InitProducerIdFencing => stats with { InitProducerIdFencings = stats.InitProducerIdFencings + 1 },
        _ => throw new ArgumentOutOfRangeException(nameof(decision), decision, null),
    };

    private static PendingTxnTransition? FindWrite(IReadOnlyCollection<PendingTxnTransition> writes, string transactionalId)
    {
        foreach (var write in writes)
            if (write.TransactionalId == transactionalId) return write;
        return null;
    }

    private static StoredTransaction ToStored(string transactionalId, TxnTransitMetadata t)
    {
        var partitions = new List<TopicPartition>();
        var groups = new List<string>();
        foreach (var p in t.Participants)
            if (p.GroupId is { } group) groups.Add(group);
            else partitions.Add(p.Partition);
        return new StoredTransaction(transactionalId, t.ProducerId, t.LastProducerId, t.ProducerEpoch, t.LastProducerEpoch, t.TxnTimeoutMs,
            t.TxnState, partitions, groups, t.TxnStartTimestamp, t.TxnLastUpdateTimestamp, t.ClientTransactionVersion,
            t.NextProducerId >= 0 ? t.NextProducerId : null);
    }
}
