using OrleansStream.Records;

namespace OrleansStream.Storage;

/// <summary>
/// The aborted transactions of the range being cleaned, by producer (Kafka's CleanedTransactionMetadata): a
/// transactional data batch of a producer between its aborted transaction's first offset and its ABORT marker is
/// aborted data. The cleaner drops it and keeps it out of the offset map, so it never hides a committed value.
/// </summary>
internal sealed class AbortedBatches
{
    public static readonly AbortedBatches None = new([]);

    private readonly Dictionary<long, List<AbortedTxn>> _byProducer = [];

    public AbortedBatches(IEnumerable<AbortedTxn> aborted)
    {
        foreach (var txn in aborted)
        {
            if (!_byProducer.TryGetValue(txn.ProducerId, out var list))
                _byProducer[txn.ProducerId] = list = [];
            list.Add(txn);
        }
    }

    public bool IsEmpty => _byProducer.Count == 0;

    public bool Contains(in RecordBatchHeader header)
    {
        if (!header.IsTransactional || header.IsControl || !_byProducer.TryGetValue(header.ProducerId, out var list))
            return false;
        foreach (var txn in list)
        {
            if (header.BaseOffset >= txn.FirstOffset && header.LastOffset < txn.LastOffset)
                return true;
        }
        return false;
    }

    /// <summary>Every entry of a tiered <c>.txnindex</c> file, for the tier's compaction.</summary>
    public static void ReadAll(ReadOnlySpan<byte> txnIndex, List<AbortedTxn> into) =>
        TransactionIndex.Collect(txnIndex, long.MinValue, long.MaxValue, into);
}
