using Microsoft.Extensions.Options;
using OrleansStream.Records;
using OrleansStream.Server.Cluster;
using OrleansStream.Storage.Producers;

namespace OrleansStream.Server.Transactions;

/// <summary>
/// KIP-890 part 1 at a partition leader: before a transaction's first batch at this partition (a transactional batch of
/// a producer with no transaction open here), the leader asks the producer's coordinator shard whether the partition is
/// in its open transaction, and refuses the batch otherwise. A late produce of a transaction already completed thus
/// never opens a transaction here. A marker for the producer that lands while the question is out (Kafka's
/// VerificationGuard) voids the answer. A group grain verifies a transaction's first TxnOffsetCommit the same way.
/// The question is given up when a silo leaves (the coordinator's may have died with it) and the batch refused
/// retriably. For a producer of transactions v2 (KIP-890 part 2: Produce v12, TxnOffsetCommit v5) the same first write
/// adds the partition or group to the transaction instead (Kafka's AddPartitionsToTxnManager with its addPartition
/// operation), under the same guard. One per replica or group grain, called on its turns.
/// </summary>
internal sealed class TransactionVerifier(IGrainFactory grains, SiloDepartures departures, IOptions<TransactionCoordinatorOptions> options)
{
    private readonly Dictionary<long, object> _guards = [];

    /// <summary>
    /// Whether the first batch of <paramref name="records"/> opens a transaction here and so needs verification: a
    /// transactional data batch, the producer's transactional id given (a request without one is not verified, as in
    /// Kafka), and no transaction of this producer epoch open at the partition.
    /// </summary>
    public static bool NeedsVerification(string? transactionalId, ReadOnlySpan<byte> records, ProducerStateManager producers, out RecordBatchHeader header)
    {
        header = default;
        if (string.IsNullOrEmpty(transactionalId) || records.Length < RecordBatchHeader.Size) return false;
        header = RecordBatchHeader.Read(records);
        if (!header.IsTransactional || header.IsControl || header.ProducerId < 0) return false;
        return !producers.TryGetLastEntry(header.ProducerId, out var entry)
            || entry.CurrentTxnFirstOffset is null
            || entry.ProducerEpoch != header.ProducerEpoch;
    }

    /// <summary>
    /// Asks the coordinator. Answers None and the guard to check with <see cref="IsStillValid"/> just before the append,
    /// or the error to refuse the batch with: Kafka's mapping (AddPartitionsToTxnManager, then ReplicaManager's
    /// handleProduceAppend), where ProducerFenced becomes InvalidProducerEpoch, the coordinator's TransactionAbortable
    /// (not in the transaction) stays so only for a client that takes it (<paramref name="takesTransactionAbortable"/>:
    /// Kafka's genericError, Produce v11+ and TxnOffsetCommit v4+) and becomes InvalidTxnState
    /// otherwise, and the coordinator's retriable errors (and a failed call) become NotEnoughReplicas, which every
    /// producer retries, whatever the version.
    /// </summary>
    public async Task<(ErrorCode Error, object? Guard)> VerifyAsync(
        string transactionalId, long producerId, short producerEpoch, TxnParticipant participant, bool takesTransactionAbortable,
        bool addToTransaction = false)
    {
        if (!_guards.TryGetValue(producerId, out var guard))
            _guards[producerId] = guard = new object();
        var shard = TransactionStateManager.PartitionFor(transactionalId, options.Value.TransactionStateLogNumPartitions);
        ErrorCode error;
        try
        {
            var coordinator = grains.GetGrain<ITransactionCoordinatorGrain>(shard);
            error = (participant.GroupId, addToTransaction) switch
            {
                ({ } group, true) => (await departures.Call(coordinator.AddOffsetsToTxn(
                    new AddOffsetsToTxnRequest(transactionalId, producerId, producerEpoch, group, ClientTransactionVersion: 2)))).Error,
                ({ } group, false) => await departures.Call(
                    grains.GetGrain<ITransactionCoordinatorShardGrain>(shard).VerifyGroupInTxn(transactionalId, producerId, producerEpoch, group)),
                (null, true) => (await departures.Call(coordinator.AddPartitionsToTxn(
                    new AddPartitionsToTxnRequest(transactionalId, producerId, producerEpoch, [participant.Partition], ClientTransactionVersion: 2)))).Partitions[0].Error,
                (null, false) => (await departures.Call(coordinator.VerifyPartitionInTxn(
                    new VerifyPartitionInTxnRequest(transactionalId, producerId, producerEpoch, participant.Partition)))).Error,
            };
        }
        catch (Exception e) when (e is TimeoutException or OrleansException)
        {
            error = ErrorCode.CoordinatorNotAvailable;
        }
        error = ForClient(error, takesTransactionAbortable);
        if (error == ErrorCode.None) return (error, guard);
        if (_guards.TryGetValue(producerId, out var current) && ReferenceEquals(current, guard)) _guards.Remove(producerId);
        return (error, null);
    }

    /// <summary>
    /// The coordinator's verification answer as the client gets it, Kafka's mapping: AddPartitionsToTxnManager turns
    /// PRODUCER_FENCED into INVALID_PRODUCER_EPOCH and, unless the operation is genericError, TRANSACTION_ABORTABLE into
    /// INVALID_TXN_STATE; ReplicaManager.handleProduceAppend then turns CONCURRENT_TRANSACTIONS, NETWORK_EXCEPTION (a
    /// failed call here), COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE and NOT_COORDINATOR into
    /// NOT_ENOUGH_REPLICAS, at every version. Other answers pass as they are.
    /// </summary>
    public static ErrorCode ForClient(ErrorCode coordinatorError, bool takesTransactionAbortable) => coordinatorError switch
    {
        ErrorCode.ProducerFenced => ErrorCode.InvalidProducerEpoch,
        ErrorCode.TransactionAbortable when !takesTransactionAbortable => ErrorCode.InvalidTxnState,
        ErrorCode.NotCoordinator or ErrorCode.CoordinatorNotAvailable or ErrorCode.CoordinatorLoadInProgress or ErrorCode.ConcurrentTransactions
            => ErrorCode.NotEnoughReplicas,
        _ => coordinatorError,
    };

    /// <summary>Whether no marker for the producer landed since <paramref name="guard"/> was handed out.</summary>
    public bool IsStillValid(long producerId, object guard) =>
        _guards.TryGetValue(producerId, out var current) && ReferenceEquals(current, guard);

    /// <summary>A marker for the producer was appended: its transaction here ended, earlier verifications are void.</summary>
    public void OnMarker(long producerId) => _guards.Remove(producerId);
}
