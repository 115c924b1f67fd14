using System.Text;
using CsCheck;

namespace OrleansStream.Records.Tests;

public class PropertyTests
{
    private sealed record Input(long Timestamp, byte[]? Key, byte[]? Value, RecordHeader[] Headers);

    private static readonly Gen<byte[]?> NullableBytes =
        Gen.Frequency((1, Gen.Const((byte[]?)null)), (6, Gen.Byte.Array[0, 40].Select(b => (byte[]?)b)));

    private static readonly Gen<RecordHeader> Header =
        Gen.Select(Gen.String[Gen.Char.AlphaNumeric, 0, 8], NullableBytes, (k, v) => new RecordHeader(k, v));

    private static readonly Gen<Input> Record =
        Gen.Select(Gen.Long[-1L << 50, 1L << 50], NullableBytes, NullableBytes, Header.Array[0, 3],
            (t, k, v, h) => new Input(t, k, v, h));

    private static readonly Gen<(long Pid, short Epoch, int Seq, bool Txn, bool Control)> Producer =
        Gen.Select(Gen.Long[-1, 1000], Gen.Short, Gen.Int[-1, int.MaxValue], Gen.Bool, Gen.Bool);

    [Fact]
    public void Build_then_read_returns_the_input()
    {
        Gen.Select(Record.Array[1, 30], Producer, Gen.Long[0, 1L << 40], Gen.Int[-1, 1000]).Sample(t =>
        {
            // CsCheck samples on several threads: one builder per sample (a small one, so growth is exercised).
            using var builder = new RecordBatchBuilder(32);
            var (records, producer, baseOffset, epoch) = t;
            builder.Reset(producer.Pid, producer.Epoch, producer.Seq, producer.Txn, producer.Control);
            foreach (var r in records)
                builder.Append(r.Timestamp, r.Key, r.Value, r.Headers);
            byte[] batch = builder.ToArray();
            RecordBatchHeader.Stamp(batch, baseOffset, epoch);

            Assert.Equal(ErrorCode.None, RecordBatchHeader.Validate(batch, out var header));
            Assert.Equal(records.Length, header.RecordCount);
            Assert.Equal(records.Length - 1, header.LastOffsetDelta);
            Assert.Equal(records[0].Timestamp, header.BaseTimestamp);
            Assert.Equal(records.Max(r => r.Timestamp), header.MaxTimestamp);
            Assert.Equal(producer.Pid, header.ProducerId);
            Assert.Equal(producer.Epoch, header.ProducerEpoch);
            Assert.Equal(producer.Seq, header.BaseSequence);
            Assert.Equal(producer.Txn, header.IsTransactional);
            Assert.Equal(producer.Control, header.IsControl);
            Assert.Equal(epoch, header.PartitionLeaderEpoch);

            int i = 0;
            foreach (var view in RecordBatchReader.Batches(batch))
            {
                foreach (var record in view.Records())
                {
                    var expected = records[i];
                    Assert.Equal(baseOffset + i, record.Offset);
                    Assert.Equal(expected.Timestamp, record.TimestampMs);
                    Assert.Equal(expected.Key, record.KeyToArray());
                    Assert.Equal(expected.Value, record.ValueToArray());
                    Assert.Equal(expected.Headers.Length, record.HeaderCount);
                    int h = 0;
                    foreach (var header2 in record.Headers)
                    {
                        Assert.Equal(expected.Headers[h].Key, header2.GetKey());
                        Assert.Equal(expected.Headers[h].Value, header2.ToRecordHeader().Value);
                        h++;
                    }
                    Assert.Equal(expected.Headers.Length, h);
                    Assert.True(record.SizeInBytes <= RecordBatchBuilder.EstimateSizeInBytes(
                        expected.Key?.Length ?? -1, expected.Value?.Length ?? -1, expected.Headers));
                    i++;
                }
            }
            Assert.Equal(records.Length, i);
        }, iter: 2000);
    }

    [Fact]
    public void Concatenated_batches_read_back_in_order()
    {
        Gen.Select(Record.Array[1, 5], Gen.Int[1, 6]).Sample(t =>
        {
            using var builder = new RecordBatchBuilder(32);
            var (records, batchCount) = t;
            var all = new List<byte>();
            long next = 0;
            for (int b = 0; b < batchCount; b++)
            {
                builder.Reset();
                foreach (var r in records)
                    builder.Append(r.Timestamp, r.Key, r.Value, r.Headers);
                byte[] batch = builder.ToArray();
                RecordBatchHeader.Stamp(batch, next, 0);
                next += records.Length;
                all.AddRange(batch);
            }

            long offset = 0;
            var enumerator = RecordBatchReader.Batches(all.ToArray());
            foreach (var view in enumerator)
                foreach (var record in view.Records())
                    Assert.Equal(offset++, record.Offset);
            Assert.Equal(next, offset);
        }, iter: 300);
    }

    [Fact]
    public void Header_keys_round_trip_as_UTF8()
    {
        using var builder = new RecordBatchBuilder();
        builder.Append(1, null, "x"u8.ToArray(), [new RecordHeader("clé-ключ-鍵", Encoding.UTF8.GetBytes("valeur"))]);
        foreach (var record in RecordBatchReader.Batch(builder.Seal().Span).Records())
            foreach (var header in record.Headers)
            {
                Assert.Equal("clé-ключ-鍵", header.GetKey());
                Assert.Equal("valeur", Encoding.UTF8.GetString(header.Value));
            }
    }
}
