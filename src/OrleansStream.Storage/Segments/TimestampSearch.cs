using OrleansStream.Records;

namespace OrleansStream.Storage;

/// <summary>
/// The per-record step of Kafka's fetchOffsetByTimestamp: the time index and batch headers find the first batch whose
/// max timestamp qualifies, and its records (decompressed if need be) give the first one at or after the minimum offset
/// stamped at or after the target, so ListOffsets answers a record's offset whatever the size of its batch.
/// </summary>
internal static class TimestampSearch
{
    /// <summary>The first record of <paramref name="batch"/> at or after <paramref name="minOffset"/> with a timestamp &gt;= <paramref name="timestampMs"/>.</summary>
    public static TimestampOffset? FirstRecord(ReadOnlySpan<byte> batch, long timestampMs, long minOffset)
    {
        PooledBuffer? plain = null;
        try
        {
            var view = RecordBatchCompression.Readable(RecordBatchReader.Batch(batch), ref plain);
            foreach (var record in view.Records())
            {
                if (record.Offset >= minOffset && record.TimestampMs >= timestampMs)
                    return new TimestampOffset(record.TimestampMs, record.Offset);
            }
            return null;
        }
        finally
        {
            plain?.Dispose();
        }
    }
}
