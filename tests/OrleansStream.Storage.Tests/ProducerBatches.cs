using System.Buffers.Binary;
using OrleansStream.Records;
using OrleansStream.Storage.Producers;

namespace OrleansStream.Storage.Tests;

/// <summary>
/// Idempotent, transactional and control batches: <see cref="TestBatches"/>' hand-built bytes with the producer fields,
/// attributes and CRC patched in from DefaultRecordBatch's layout, and markers written from EndTransactionMarker's schema.
/// </summary>
public static class ProducerBatches
{
    public const long T0 = 1_700_000_000_000;

    public static byte[] Data(long baseOffset, long producerId, short epoch, int baseSequence, int count = 1,
        bool transactional = false, long timestamp = T0)
    {
        var records = new TestRecord[count];
        for (var i = 0; i < count; i++)
            records[i] = TestRecord.Of("k" + i, "v" + i, timestamp);
        return Patch(TestBatches.Create(baseOffset, records), producerId, epoch, baseSequence,
            transactional ? RecordBatchHeader.TransactionalFlagMask : (short)0);
    }

    /// <summary>A COMMIT (or ABORT) control batch: key = version 0, type; value = version 0, coordinator epoch.</summary>
    public static byte[] Marker(long offset, long producerId, short epoch, bool commit, int coordinatorEpoch = 0, long timestamp = T0)
    {
        var key = new byte[] { 0, 0, 0, (byte)(commit ? 1 : 0) };
        var value = new byte[6];
        BinaryPrimitives.WriteInt32BigEndian(value.AsSpan(2), coordinatorEpoch);
        var batch = TestBatches.Create(offset, new TestRecord(key, value, timestamp));
        return Patch(batch, producerId, epoch, ProducerSequence.NoSequence,
            (short)(RecordBatchHeader.TransactionalFlagMask | RecordBatchHeader.ControlFlagMask));
    }

    private static byte[] Patch(byte[] batch, long producerId, short epoch, int baseSequence, short attributes)
    {
        var span = batch.AsSpan();
        BinaryPrimitives.WriteInt16BigEndian(span[RecordBatchHeader.AttributesOffset..], attributes);
        BinaryPrimitives.WriteInt64BigEndian(span[RecordBatchHeader.ProducerIdOffset..], producerId);
        BinaryPrimitives.WriteInt16BigEndian(span[RecordBatchHeader.ProducerEpochOffset..], epoch);
        BinaryPrimitives.WriteInt32BigEndian(span[RecordBatchHeader.BaseSequenceOffset..], baseSequence);
        BinaryPrimitives.WriteUInt32BigEndian(span[RecordBatchHeader.CrcOffset..], Crc32C.HashToUInt32(span[RecordBatchHeader.AttributesOffset..]));
        Assert.Equal(ErrorCode.None, RecordBatchHeader.Validate(batch, out _));
        return batch;
    }
}
