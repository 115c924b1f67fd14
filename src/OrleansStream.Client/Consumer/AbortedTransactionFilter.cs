using System.Buffers.Binary;
using OrleansStream.Records;

namespace OrleansStream.Client;

/// <summary>
/// Kafka's read_committed consumer rule for one fetch answer (its CompletedFetch): the answer's aborted transactions,
/// ordered by first offset, mark their producer aborted once a batch reaches that offset; the producer's transactional
/// batches are then skipped until its ABORT marker ends the transaction. Fed every batch of the answer in order.
/// </summary>
internal sealed class AbortedTransactionFilter
{
    private readonly AbortedTransaction[] _aborted;
    private readonly HashSet<long> _abortedProducers = [];
    private int _next;

    private AbortedTransactionFilter(IReadOnlyList<AbortedTransaction> aborted)
    {
        _aborted = new AbortedTransaction[aborted.Count];
        for (var i = 0; i < _aborted.Length; i++)
            _aborted[i] = aborted[i];
        Array.Sort(_aborted, static (a, b) => a.FirstOffset.CompareTo(b.FirstOffset));
    }

    /// <summary>A filter for a fetch answer's aborted transactions; null when there are none (nothing to skip but markers).</summary>
    public static AbortedTransactionFilter? For(IReadOnlyList<AbortedTransaction>? aborted) =>
        aborted is { Count: > 0 } ? new AbortedTransactionFilter(aborted) : null;

    /// <summary>True when <paramref name="batch"/> is data of an aborted transaction; control batches update the state and return false.</summary>
    public bool IsAborted(in RecordBatchHeader header, ReadOnlySpan<byte> batch)
    {
        if (header.ProducerId < 0)
            return false;
        while (_next < _aborted.Length && _aborted[_next].FirstOffset <= header.LastOffset)
            _abortedProducers.Add(_aborted[_next++].ProducerId);
        if (header.IsControl)
        {
            if (IsAbortMarker(header, batch))
                _abortedProducers.Remove(header.ProducerId);
            return false;
        }
        return header.IsTransactional && _abortedProducers.Contains(header.ProducerId);
    }

    /// <summary>Kafka's containsAbortMarker: a control batch whose record key is (version, type ABORT = 0).</summary>
    private static bool IsAbortMarker(in RecordBatchHeader header, ReadOnlySpan<byte> batch)
    {
        if (header.RecordCount == 0 || header.Compression != CompressionType.None)
            return false;
        var records = RecordBatchReader.Batch(batch).Records();
        if (!records.MoveNext())
            return false;
        var key = records.Current.Key;
        return !records.Current.KeyIsNull && key.Length >= 4 && BinaryPrimitives.ReadInt16BigEndian(key[2..]) == 0;
    }
}
