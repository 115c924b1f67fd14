using Microsoft.Extensions.Time.Testing;
using OrleansStream.Client;
using OrleansStream.Records;

namespace OrleansStream.Client.Tests;

public sealed class AccumulatorTests
{
    private static readonly TopicPartition Tp = new("t", 0);
    private readonly FakeTimeProvider _time = new();

    private sealed class Recorder : IDeliveryCallback
    {
        public long Offset = -2;
        public void OnDelivered(in Delivery delivery, TopicPartition tp, long offset, long logAppendTimeMs, PersistenceStatus status, Error error) => Offset = offset;
    }

    private static long Append(RecordAccumulator acc, TopicPartition tp, int valueSize, out bool wake, long ts = 1_700_000_000_000)
    {
        var value = new byte[valueSize];
        var size = RecordBatchBuilder.EstimateSizeInBytes(0, valueSize, 0);
        return acc.Append(tp, ts, default, true, value, false, null, size, new Delivery(new Recorder()), out wake);
    }

    [Fact]
    public void Records_fill_one_batch_until_batch_size_then_a_new_one_starts()
    {
        var acc = new RecordAccumulator(batchSize: 1024, lingerMs: 1000, _time);
        var first = Append(acc, Tp, 100, out var wake);
        Assert.True(wake); // a new batch: the sender must track its linger
        var sequences = new HashSet<long> { first };
        for (var i = 0; i < 20; i++) sequences.Add(Append(acc, Tp, 100, out _));
        Assert.True(sequences.Count >= 2);

        var ready = new List<PartitionQueue>();
        acc.Collect(_time.GetTimestamp(), flush: false, maxInFlight: 5, ready);
        var q = Assert.Single(ready);
        var request = acc.TakeRequest(q, _time.GetTimestamp(), maxInFlight: 5, maxRequestBytes: 1 << 20)!;
        Assert.NotEmpty(request);
        var total = 0;
        foreach (var b in request)
        {
            Assert.True(b.Bytes.Length <= 1024);
            Assert.Equal(ErrorCode.None, RecordBatchHeader.Validate(b.Bytes.Span, out var header));
            Assert.Equal(b.RecordCount, header.RecordCount);
            total += b.RecordCount;
        }
        // Whatever is still open lingers; everything sealed went out in one request, in creation order.
        Assert.True(total < 21);
        for (var i = 1; i < request.Count; i++) Assert.True(request[i - 1].Sequence < request[i].Sequence);
    }

    /// <summary>Appends <paramref name="records"/> records, flushes and takes the one request the partition then has.</summary>
    private ProducerBatch SealOne(RecordAccumulator acc, TopicPartition tp, int records)
    {
        for (var i = 0; i < records; i++) Append(acc, tp, 100, out _);
        var ready = new List<PartitionQueue>();
        acc.Collect(_time.GetTimestamp(), flush: true, maxInFlight: 5, ready);
        return Assert.Single(acc.TakeRequest(acc.Queue(tp), _time.GetTimestamp(), maxInFlight: 5, maxRequestBytes: 1 << 20)!);
    }

    /// <summary>What the sender does once a batch's records were reported.</summary>
    private static void Done(RecordAccumulator acc, ProducerBatch batch)
    {
        batch.Callbacks.Clear();
        acc.Recycle(batch);
        acc.RequestDone(acc.Queue(batch.TopicPartition), succeeded: true);
    }

    [Fact]
    public void A_done_batch_is_reused_without_its_past_but_not_after_a_call_that_may_still_read_its_buffer()
    {
        var acc = new RecordAccumulator(batchSize: 1 << 20, lingerMs: 1000, _time);
        var first = SealOne(acc, Tp, 10);
        first.SetProducerState(new ProducerIdAndEpoch(7, 1), 40);
        first.Attempts = 2;
        first.LastError = new Error(ErrorCode.RequestTimedOut);
        var firstSequence = first.Sequence;
        Done(acc, first);
        acc.Recycle(first); // a second recycle must not pool it twice

        var second = SealOne(acc, Tp, 3);
        Assert.Same(first, second);
        Assert.True(second.Sequence > firstSequence);
        Assert.Equal(3, second.RecordCount);
        Assert.False(second.HasSequence);
        Assert.Equal(0, second.Attempts);
        Assert.Null(second.LastError);
        Assert.Equal(ErrorCode.None, RecordBatchHeader.Validate(second.Bytes.Span, out var header));
        Assert.Equal(3, header.RecordCount);
        Assert.Equal(-1, header.ProducerId);
        var other = SealOne(acc, new TopicPartition("t", 1), 1);
        Assert.NotSame(second, other);

        // A call that ended without an answer may still read the batch's buffer: neither comes back.
        second.Lent = true;
        Done(acc, second);
        Done(acc, other);
        var third = SealOne(acc, Tp, 1);
        Assert.NotSame(second, third);
        Assert.Same(other, third);
        Assert.Equal(Tp, third.TopicPartition);
    }

    [Fact]
    public void A_batch_is_compressed_when_sealed_and_split_pieces_keep_the_codec()
    {
        var acc = new RecordAccumulator(batchSize: 1 << 20, lingerMs: 1000, _time, compression: CompressionType.Zstd);
        for (var i = 0; i < 50; i++) Append(acc, Tp, 100, out _);

        var ready = new List<PartitionQueue>();
        acc.Collect(_time.GetTimestamp(), flush: true, maxInFlight: 5, ready);
        var batch = Assert.Single(acc.TakeRequest(Assert.Single(ready), _time.GetTimestamp(), maxInFlight: 5, maxRequestBytes: 1 << 20)!);

        Assert.Equal(ErrorCode.None, RecordBatchHeader.Validate(batch.Bytes.Span, out var header));
        Assert.Equal((CompressionType.Zstd, 50), (header.Compression, header.RecordCount));
        Assert.True(batch.Bytes.Length < 50 * 100 / 4);

        var pieces = RecordAccumulator.Split(batch);
        Assert.Equal(50, pieces.Count);
        foreach (var piece in pieces)
        {
            Assert.Equal(ErrorCode.None, RecordBatchHeader.Validate(piece.Bytes.Span, out var pieceHeader));
            Assert.Equal((CompressionType.Zstd, 1), (pieceHeader.Compression, pieceHeader.RecordCount));
            foreach (var record in RecordBatchReader.Batch(RecordBatchCompression.Decompress(piece.Bytes.Span)).Records())
                Assert.Equal(100, record.Value.Length);
        }
    }

    [Fact]
    public void A_batch_is_sent_after_linger_ms_or_at_once_on_flush()
    {
        var acc = new RecordAccumulator(batchSize: 16384, lingerMs: 5, _time);
        Append(acc, Tp, 10, out _);
        var ready = new List<PartitionQueue>();

        var next = acc.Collect(_time.GetTimestamp(), flush: false, maxInFlight: 5, ready);
        Assert.Empty(ready);
        Assert.Equal(_time.GetTimestamp() + Ticks.FromMs(_time, 5), next);

        _time.Advance(TimeSpan.FromMilliseconds(5));
        next = acc.Collect(_time.GetTimestamp(), flush: false, maxInFlight: 5, ready);
        Assert.Single(ready);
        Assert.Equal(long.MaxValue, next);

        ready.Clear();
        Append(acc, new TopicPartition("t", 1), 10, out _);
        acc.Collect(_time.GetTimestamp(), flush: true, maxInFlight: 5, ready);
        Assert.Equal(2, ready.Count);
    }

    [Fact]
    public void In_flight_limit_and_retries_keep_order()
    {
        var acc = new RecordAccumulator(batchSize: 200, lingerMs: 0, _time);
        for (var i = 0; i < 4; i++) Append(acc, Tp, 150, out _); // one batch each
        var ready = new List<PartitionQueue>();
        acc.Collect(_time.GetTimestamp(), flush: true, maxInFlight: 5, ready);
        var q = Assert.Single(ready);
        var now = _time.GetTimestamp();

        var r1 = acc.TakeRequest(q, now, maxInFlight: 2, maxRequestBytes: 250)!;
        var r2 = acc.TakeRequest(q, now, maxInFlight: 2, maxRequestBytes: 250)!;
        Assert.Null(acc.TakeRequest(q, now, maxInFlight: 2, maxRequestBytes: 250));
        const long stride = RecordAccumulator.SequenceStride;
        Assert.Equal(0, Assert.Single(r1).Sequence);
        Assert.Equal(1 * stride, Assert.Single(r2).Sequence);

        // r1 fails and goes back in front of the never-sent batches; until a request succeeds, one at a time.
        acc.Requeue(q, r1, notBefore: now + 10, sendSingly: false);
        acc.RequestDone(q, succeeded: false);
        Assert.Null(acc.TakeRequest(q, now, maxInFlight: 2, maxRequestBytes: 1 << 20)); // backoff
        acc.RequestDone(q, succeeded: true); // r2 succeeded
        var retry = acc.TakeRequest(q, now + 10, maxInFlight: 2, maxRequestBytes: 1 << 20)!;
        Assert.Equal([0L, 2 * stride, 3 * stride], retry.ConvertAll(b => b.Sequence));
    }

    [Fact]
    public void After_record_too_large_batches_go_one_per_request()
    {
        var acc = new RecordAccumulator(batchSize: 200, lingerMs: 0, _time);
        for (var i = 0; i < 3; i++) Append(acc, Tp, 150, out _);
        var ready = new List<PartitionQueue>();
        acc.Collect(_time.GetTimestamp(), flush: true, maxInFlight: 5, ready);
        var q = ready[0];
        var now = _time.GetTimestamp();
        var all = acc.TakeRequest(q, now, 5, 1 << 20)!;
        Assert.Equal(3, all.Count);
        acc.Requeue(q, all, 0, sendSingly: true);
        acc.RequestDone(q, succeeded: false);
        Assert.Single(acc.TakeRequest(q, now, 5, 1 << 20)!);
    }

    [Fact]
    public void Sequences_of_open_batches_are_visible_for_the_sticky_partitioner()
    {
        var acc = new RecordAccumulator(batchSize: 16384, lingerMs: 5, _time);
        Assert.Equal(-1, RecordAccumulator.OpenSequence(acc.Queue(Tp)));
        var s = Append(acc, Tp, 10, out _);
        Assert.Equal(s, RecordAccumulator.OpenSequence(acc.Queue(Tp)));
        acc.Collect(_time.GetTimestamp(), flush: true, maxInFlight: 5, []);
        Assert.Equal(-1, RecordAccumulator.OpenSequence(acc.Queue(Tp)));
    }

    [Fact]
    public void While_a_request_is_in_flight_records_join_the_open_batch_instead_of_one_batch_each()
    {
        // linger.ms=0 and one request in flight, Kafka's defaults for ordering: everything that arrives during the
        // request must go out as one batch in the next one.
        var acc = new RecordAccumulator(batchSize: 16384, lingerMs: 0, _time);
        var ready = new List<PartitionQueue>();
        Append(acc, Tp, 10, out _);
        acc.Collect(_time.GetTimestamp(), flush: false, maxInFlight: 1, ready);
        var q = Assert.Single(ready);
        var first = Assert.Single(acc.TakeRequest(q, _time.GetTimestamp(), maxInFlight: 1, maxRequestBytes: 1 << 20)!);
        Assert.Equal(1, first.RecordCount);

        for (var i = 0; i < 30; i++)
        {
            Append(acc, Tp, 10, out _);
            ready.Clear();
            Assert.Equal(long.MaxValue, acc.Collect(_time.GetTimestamp(), flush: false, maxInFlight: 1, ready));
            Assert.Empty(ready); // nothing sealed while the partition cannot send
        }
        Assert.Null(acc.TakeRequest(q, _time.GetTimestamp(), maxInFlight: 1, maxRequestBytes: 1 << 20));

        acc.RequestDone(q, succeeded: true);
        acc.Collect(_time.GetTimestamp(), flush: false, maxInFlight: 1, ready);
        var second = Assert.Single(acc.TakeRequest(Assert.Single(ready), _time.GetTimestamp(), maxInFlight: 1, maxRequestBytes: 1 << 20)!);
        Assert.Equal(30, second.RecordCount);
        Assert.Equal(ErrorCode.None, RecordBatchHeader.Validate(second.Bytes.Span, out var header));
        Assert.Equal(30, header.RecordCount);
    }

    [Fact]
    public void An_open_batch_in_backoff_is_sealed_when_the_backoff_ends()
    {
        var acc = new RecordAccumulator(batchSize: 16384, lingerMs: 0, _time);
        var ready = new List<PartitionQueue>();
        Append(acc, Tp, 10, out _);
        acc.Collect(_time.GetTimestamp(), flush: false, maxInFlight: 1, ready);
        var q = Assert.Single(ready);
        var failed = acc.TakeRequest(q, _time.GetTimestamp(), maxInFlight: 1, maxRequestBytes: 1 << 20)!;
        Append(acc, Tp, 10, out _);
        var notBefore = _time.GetTimestamp() + Ticks.FromMs(_time, 100);
        acc.Requeue(q, failed, notBefore, sendSingly: false);
        acc.RequestDone(q, succeeded: false);

        ready.Clear();
        Assert.Equal(notBefore, acc.Collect(_time.GetTimestamp(), flush: false, maxInFlight: 1, ready));
        Assert.NotEqual(-1, RecordAccumulator.OpenSequence(acc.Queue(Tp))); // still open while the retry backs off

        _time.Advance(TimeSpan.FromMilliseconds(100));
        ready.Clear();
        acc.Collect(_time.GetTimestamp(), flush: false, maxInFlight: 1, ready);
        Assert.Equal(-1, RecordAccumulator.OpenSequence(acc.Queue(Tp)));
        var retry = acc.TakeRequest(Assert.Single(ready), _time.GetTimestamp(), maxInFlight: 1, maxRequestBytes: 1 << 20)!;
        Assert.Equal([0L, RecordAccumulator.SequenceStride], retry.ConvertAll(b => b.Sequence));
    }

    private static readonly ProducerIdAndEpoch Pid = new(42, 3);

    private (RecordAccumulator Acc, PartitionQueue Q) ReadyBatches(int batches, int recordsPerBatch)
    {
        var acc = new RecordAccumulator(batchSize: 16384, lingerMs: 0, _time);
        var ready = new List<PartitionQueue>();
        for (var b = 0; b < batches; b++)
        {
            for (var r = 0; r < recordsPerBatch; r++) Append(acc, Tp, 10, out _);
            ready.Clear();
            acc.Collect(_time.GetTimestamp(), flush: true, maxInFlight: int.MaxValue, ready);
        }
        return (acc, Assert.Single(ready));
    }

    private static ProducerBatch Next(RecordAccumulator acc, PartitionQueue q, long now) =>
        Assert.Single(acc.TakeRequest(q, now, 5, 1 << 20, idempotent: true, Pid)!);

    /// <summary>The first batch under the producer id goes alone; once it is acknowledged the window opens.</summary>
    private static void SendFirstBatch(RecordAccumulator acc, PartitionQueue q, long now)
    {
        RecordAccumulator.Acknowledged(q, Next(acc, q, now));
        acc.RequestDone(q, succeeded: true);
    }

    private static BatchStamp Stamp(ProducerBatch b)
    {
        Assert.Equal(ErrorCode.None, RecordBatchHeader.Validate(b.Bytes.Span, out var h)); // the CRC covers the stamp
        return new BatchStamp(h.ProducerId, h.ProducerEpoch, h.BaseSequence);
    }

    private readonly record struct BatchStamp(long ProducerId, short Epoch, int BaseSequence);

    [Fact]
    public void An_idempotent_request_carries_one_batch_stamped_with_the_next_sequence_when_first_drained()
    {
        var (acc, q) = ReadyBatches(batches: 4, recordsPerBatch: 4);
        var now = _time.GetTimestamp();
        Assert.Null(acc.TakeRequest(q, now, 5, 1 << 20, idempotent: true, producerId: null)); // no producer id yet

        var first = Assert.Single(acc.TakeRequest(q, now, 5, 1 << 20, idempotent: true, Pid)!);
        Assert.Equal(new BatchStamp(42, 3, 0), Stamp(first));
        // The partition may not know the producer yet and would take any sequence: the first batch goes alone.
        Assert.Null(acc.TakeRequest(q, now, 5, 1 << 20, idempotent: true, Pid));
        RecordAccumulator.Acknowledged(q, first);
        acc.RequestDone(q, succeeded: true);

        var second = Assert.Single(acc.TakeRequest(q, now, 5, 1 << 20, idempotent: true, Pid)!);
        var third = Assert.Single(acc.TakeRequest(q, now, 5, 1 << 20, idempotent: true, Pid)!);
        Assert.Equal(new BatchStamp(42, 3, 4), Stamp(second));
        Assert.Equal(new BatchStamp(42, 3, 8), Stamp(third));

        // The second fails retriably: it goes again with the same sequence, once the third is answered, and alone.
        acc.Requeue(q, [second], 0, sendSingly: false);
        acc.RequestDone(q, succeeded: false);
        Assert.Null(acc.TakeRequest(q, now, 5, 1 << 20, idempotent: true, Pid));
        RecordAccumulator.Acknowledged(q, third);
        acc.RequestDone(q, succeeded: true);
        var retry = Assert.Single(acc.TakeRequest(q, now, 5, 1 << 20, idempotent: true, Pid)!);
        Assert.Same(second, retry);
        Assert.Equal(new BatchStamp(42, 3, 4), Stamp(retry));
        Assert.Null(acc.TakeRequest(q, now, 5, 1 << 20, idempotent: true, Pid));

        RecordAccumulator.Acknowledged(q, retry);
        acc.RequestDone(q, succeeded: true);
        var fourth = Assert.Single(acc.TakeRequest(q, now, 5, 1 << 20, idempotent: true, Pid)!);
        Assert.Equal(new BatchStamp(42, 3, 12), Stamp(fourth));
    }

    [Fact]
    public void New_batches_stay_within_five_of_the_oldest_unresolved_one()
    {
        var (acc, q) = ReadyBatches(batches: 8, recordsPerBatch: 1);
        var now = _time.GetTimestamp();
        SendFirstBatch(acc, q, now);
        var oldest = acc.TakeRequest(q, now, 5, 1 << 20, idempotent: true, Pid)![0];
        var later = new List<ProducerBatch>();
        for (var i = 0; i < 4; i++) later.Add(acc.TakeRequest(q, now, 5, 1 << 20, idempotent: true, Pid)![0]);
        // The later four are answered first; the oldest is still out: a sixth would push it out of the broker's last 5.
        foreach (var b in later)
        {
            RecordAccumulator.Acknowledged(q, b);
            acc.RequestDone(q, succeeded: true);
        }
        Assert.Null(acc.TakeRequest(q, now, 5, 1 << 20, idempotent: true, Pid));
        RecordAccumulator.Acknowledged(q, oldest);
        acc.RequestDone(q, succeeded: true);
        Assert.Equal(6, acc.TakeRequest(q, now, 5, 1 << 20, idempotent: true, Pid)![0].BaseSequence);
    }

    [Fact]
    public void Sequence_errors_are_fatal_only_for_a_batch_sent_in_line()
    {
        var (acc, q) = ReadyBatches(batches: 3, recordsPerBatch: 2);
        var now = _time.GetTimestamp();
        var first = acc.TakeRequest(q, now, 5, 1 << 20, idempotent: true, Pid)![0];
        Assert.True(RecordAccumulator.IsSequenceLost(q, first)); // next in line and still refused
        RecordAccumulator.Acknowledged(q, first);
        acc.RequestDone(q, succeeded: true);
        var second = acc.TakeRequest(q, now, 5, 1 << 20, idempotent: true, Pid)![0];
        var third = acc.TakeRequest(q, now, 5, 1 << 20, idempotent: true, Pid)![0];
        Assert.True(RecordAccumulator.IsSequenceLost(q, second));
        Assert.False(RecordAccumulator.IsSequenceLost(q, third)); // may have arrived before the second: retry it
        RecordAccumulator.Acknowledged(q, second);
        Assert.False(RecordAccumulator.IsSequenceLost(q, third)); // the second's answer may come before the third's error
    }

    [Fact]
    public void A_new_producer_id_restarts_the_sequence_once_the_old_ids_requests_are_done()
    {
        var (acc, q) = ReadyBatches(batches: 2, recordsPerBatch: 2);
        var now = _time.GetTimestamp();
        var first = acc.TakeRequest(q, now, 5, 1 << 20, idempotent: true, Pid)![0];
        RecordAccumulator.GiveUpSequence(q, first.ProducerId, first.ProducerEpoch);
        Assert.True(RecordAccumulator.IsSequenceLost(q, first));
        var next = new ProducerIdAndEpoch(43, 0);
        Assert.Null(acc.TakeRequest(q, now, 5, 1 << 20, idempotent: true, next)); // the old id's request is still out
        RecordAccumulator.Resolved(q, first);
        acc.RequestDone(q, succeeded: false);
        var second = Assert.Single(acc.TakeRequest(q, now, 5, 1 << 20, idempotent: true, next)!);
        Assert.Equal(new BatchStamp(43, 0, 0), Stamp(second));
    }

    [Fact]
    public void An_idempotent_partition_grows_its_open_batch_past_batch_size_while_a_request_is_in_flight()
    {
        var acc = new RecordAccumulator(batchSize: 200, lingerMs: 0, _time, growBatchTo: 2000);
        var ready = new List<PartitionQueue>();
        Append(acc, Tp, 10, out _);
        acc.Collect(_time.GetTimestamp(), flush: false, maxInFlight: 5, ready);
        var q = Assert.Single(ready);
        var first = Assert.Single(acc.TakeRequest(q, _time.GetTimestamp(), 5, 1 << 20, idempotent: true, Pid)!);
        RecordAccumulator.Acknowledged(q, first);
        acc.RequestDone(q, succeeded: true);
        ready.Clear();
        Append(acc, Tp, 10, out _);
        acc.Collect(_time.GetTimestamp(), flush: false, maxInFlight: 5, ready);
        var second = Assert.Single(acc.TakeRequest(Assert.Single(ready), _time.GetTimestamp(), 5, 1 << 20, idempotent: true, Pid)!);

        // While the second is out, records keep joining one open batch well past batch.size (200 bytes).
        var open = Append(acc, Tp, 100, out _);
        for (var i = 0; i < 9; i++) Assert.Equal(open, Append(acc, Tp, 100, out _));
        ready.Clear();
        acc.Collect(_time.GetTimestamp(), flush: true, maxInFlight: 5, ready);
        Assert.Empty(ready);

        RecordAccumulator.Acknowledged(q, second);
        acc.RequestDone(q, succeeded: true);
        acc.Collect(_time.GetTimestamp(), flush: false, maxInFlight: 5, ready);
        var grown = Assert.Single(acc.TakeRequest(Assert.Single(ready), _time.GetTimestamp(), 5, 1 << 20, idempotent: true, Pid)!);
        Assert.Equal(10, grown.RecordCount);
        Assert.True(grown.Bytes.Length > 200);
        Assert.Equal(new BatchStamp(42, 3, 2), Stamp(grown));

        // Up to growBatchTo: a batch that reaches it is sealed even while a request is in flight.
        var sequences = new HashSet<long>();
        for (var i = 0; i < 25; i++) sequences.Add(Append(acc, Tp, 100, out _));
        Assert.Equal(2, sequences.Count);
        ready.Clear();
        acc.Collect(_time.GetTimestamp(), flush: false, maxInFlight: 5, ready);
        var full = Assert.Single(acc.TakeRequest(Assert.Single(ready), _time.GetTimestamp(), 5, 1 << 20, idempotent: true, Pid)!);
        Assert.InRange(full.Bytes.Length, 1800, 2000);
    }

    [Fact]
    public void A_sequenced_batch_split_after_record_too_large_keeps_its_sequence_range_in_order()
    {
        var (acc, q) = ReadyBatches(batches: 1, recordsPerBatch: 30);
        var batch = Assert.Single(acc.TakeRequest(q, _time.GetTimestamp(), 5, 1 << 20, idempotent: true, Pid)!);
        Assert.Equal(29, batch.LastSequence);

        var pieces = RecordAccumulator.Split(batch, maxPieceBytes: 200);
        Assert.True(pieces.Count > 2);
        var expected = batch.BaseSequence;
        var records = 0;
        for (var i = 0; i < pieces.Count; i++)
        {
            var piece = pieces[i];
            Assert.True(piece.Bytes.Length <= 200);
            Assert.Equal(new BatchStamp(42, 3, expected), Stamp(piece));
            Assert.Equal(batch.Drain, piece.Drain);
            if (i > 0) Assert.True(pieces[i - 1].Sequence < piece.Sequence);
            expected = piece.LastSequence + 1;
            records += piece.RecordCount;
        }
        Assert.Equal(30, records);
        Assert.Equal(batch.LastSequence, pieces[^1].LastSequence);

        // The pieces are retries: they go out one at a time, first the one that takes the batch's place.
        acc.Requeue(q, pieces, 0, sendSingly: true);
        acc.RequestDone(q, succeeded: false);
        Assert.Same(pieces[0], Assert.Single(acc.TakeRequest(q, _time.GetTimestamp(), 5, 1 << 20, idempotent: true, Pid)!));
        Assert.Null(acc.TakeRequest(q, _time.GetTimestamp(), 5, 1 << 20, idempotent: true, Pid));
    }

    [Fact]
    public void Every_batch_with_a_sequence_leaves_the_unresolved_window_however_it_ends()
    {
        // A drain number left behind would keep the 5-batch window shut for good: the partition would never send again.
        var (acc, q) = ReadyBatches(batches: 6, recordsPerBatch: 3);
        var now = _time.GetTimestamp();
        SendFirstBatch(acc, q, now);
        var (out1, out2, out3) = (Next(acc, q, now), Next(acc, q, now), Next(acc, q, now));

        // out1 refused as too large: its pieces take its place and range; out2 fails for good; out3 is acknowledged.
        var pieces = RecordAccumulator.Split(out1);
        acc.Requeue(q, pieces, 0, sendSingly: true);
        acc.RequestDone(q, succeeded: false);
        RecordAccumulator.Resolved(q, out2);
        acc.RequestDone(q, succeeded: false);
        RecordAccumulator.Acknowledged(q, out3);
        acc.RequestDone(q, succeeded: true);
        foreach (var piece in pieces)
        {
            Assert.Same(piece, Assert.Single(acc.TakeRequest(q, now, 5, 1 << 20, idempotent: true, Pid)!));
            Assert.True(piece.HasSequence); // a sequence, once given, is never taken back
            RecordAccumulator.Acknowledged(q, piece);
            acc.RequestDone(q, succeeded: true);
        }
        Assert.Empty(q.Unresolved);
        Assert.Single(acc.TakeRequest(q, now, 5, 1 << 20, idempotent: true, Pid)!);
    }

    [Theory]
    [InlineData(0, 1, 1)]
    [InlineData(int.MaxValue - 2, 3, 0)]
    [InlineData(int.MaxValue, 1, 0)]
    [InlineData(int.MaxValue - 1, 5, 3)]
    public void Sequences_wrap_at_int_MaxValue(int sequence, int increment, int expected) =>
        Assert.Equal(expected, TransactionManager.IncrementSequence(sequence, increment));

    [Fact]
    public void A_batch_drained_at_the_end_of_the_sequence_space_wraps_to_zero()
    {
        var (acc, q) = ReadyBatches(batches: 2, recordsPerBatch: 3);
        (q.SequenceProducerId, q.SequenceProducerEpoch) = (Pid.ProducerId, Pid.Epoch);
        q.NextBaseSequence = int.MaxValue - 1;
        var now = _time.GetTimestamp();
        var first = Next(acc, q, now);
        RecordAccumulator.Acknowledged(q, first);
        acc.RequestDone(q, succeeded: true);
        var second = acc.TakeRequest(q, now, 5, 1 << 20, idempotent: true, Pid)![0];
        Assert.Equal(int.MaxValue - 1, Stamp(first).BaseSequence);
        Assert.Equal(0, first.LastSequence); // MaxValue - 1, MaxValue, 0
        Assert.Equal(1, Stamp(second).BaseSequence);
    }
}
