using System.Buffers;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Orleans.Serialization.Session;
using OrleansStream.Records;
using OrleansStream.Server.Replication;

namespace OrleansStream.Server.Tests.Replication;

/// <summary>
/// How <see cref="PooledRecords"/> and the rest of a produce or fetch call cross a grain call: Orleans' serializer between
/// silos, its copier within one.
/// </summary>
public sealed class PooledRecordsCodecTests : IDisposable
{
    private readonly ServiceProvider _services = new ServiceCollection()
        .AddSerializer(b => b.AddAssembly(typeof(ProduceRequest).Assembly).AddAssembly(typeof(ReplicaFetchResponse).Assembly))
        .BuildServiceProvider();

    private Serializer Serializer => _services.GetRequiredService<Serializer>();

    public void Dispose() => _services.Dispose();

    private static PooledRecords Owned(int length, byte fill)
    {
        var records = PooledRecords.Rent(length);
        records.WritableSpan.Fill(fill);
        return records;
    }

    [Fact]
    public void Owned_records_go_back_to_the_pool_once_written_and_the_receiver_gets_an_owned_copy_of_the_exact_length()
    {
        var sent = new ReplicaFetchResponse(ErrorCode.None, 5, 0, 7, Owned(1_000, 42));

        var bytes = Serializer.SerializeToArray(sent);
        var received = Serializer.Deserialize<ReplicaFetchResponse>(bytes)!;

        Assert.Throws<ObjectDisposedException>(() => sent.Records.Span.Length);
        Assert.True(received.Records.IsOwned);
        Assert.Equal(1_000, received.Records.Length);
        Assert.All(received.Records.Span.ToArray(), b => Assert.Equal(42, b));
        Assert.Equal((5L, 7L), (received.HighWatermark, received.LogEndOffset));
        received.Records.Dispose();
    }

    [Fact]
    public void A_borrowed_view_stays_readable_after_it_was_written_since_a_client_may_write_a_message_again()
    {
        var lent = new byte[300];
        lent.AsSpan().Fill(9);
        var request = new ProduceRequest(Acks.All, 1_000, PooledRecords.Borrow(lent), CurrentLeaderEpoch: 3, TransactionalId: "tx");

        var first = Serializer.Deserialize<ProduceRequest>(Serializer.SerializeToArray(request))!;
        var again = Serializer.Deserialize<ProduceRequest>(Serializer.SerializeToArray(request))!;

        Assert.Equal(lent, request.Records.Span.ToArray());
        Assert.Equal(lent, first.Records.Span.ToArray());
        Assert.Equal(lent, again.Records.Span.ToArray());
        Assert.Equal((Acks.All, 3, "tx"), (first.Acks, first.CurrentLeaderEpoch, first.TransactionalId));
        first.Records.Dispose();
        again.Records.Dispose();
    }

    [Fact]
    public void Empty_records_cross_without_a_buffer()
    {
        var received = Serializer.Deserialize<FetchResponse>(Serializer.SerializeToArray(new FetchResponse(ErrorCode.OffsetOutOfRange, -1, -1, PooledRecords.Empty, "out")))!;

        Assert.Same(PooledRecords.Empty, received.Records);
        Assert.Equal(ErrorCode.OffsetOutOfRange, received.Error);
    }

    [Fact]
    public void A_call_within_a_silo_hands_the_same_instance_over_with_its_ownership()
    {
        var copier = _services.GetRequiredService<DeepCopier>();
        var records = Owned(10, 1);
        var response = new FetchResponse(ErrorCode.None, 1, 0, records);

        Assert.Same(records, copier.Copy(records));
        Assert.Same(records, copier.Copy(response).Records);
        records.Dispose();
    }

    [Theory]
    [InlineData(1_061)]
    [InlineData(109_996)]
    public void A_round_trip_allocates_a_fixed_budget_whatever_the_size_of_the_batches(int batchBytes)
    {
        // A broker receives produce requests and sends fetch answers: the batches, however large, come from the pool.
        var wire = new byte[batchBytes + 1_024];
        var sessions = _services.GetRequiredService<SerializerSessionPool>();

        var perRoundTrip = AllocatedPerCall(count => RoundTrips(count, batchBytes, wire, sessions), 42L * batchBytes);

        // The request and records objects (about 150 B); the batch bytes of the earlier byte[] field were 1 KB and 110 KB.
        Assert.True(perRoundTrip < 512, $"{perRoundTrip} B allocated per round trip of a {batchBytes} B batch");
    }

    [Theory]
    [InlineData(1_061)]
    [InlineData(109_996)]
    public void Reading_a_request_from_4_KiB_pages_allocates_a_fixed_budget_whatever_the_size_of_the_batches(int batchBytes)
    {
        // A silo reads a message body from its connection's pipe: a sequence of 4 KiB pages, 27 of them for 110 KB.
        var pages = Pages(Serializer.SerializeToArray(new ProduceRequest(Acks.Leader, 1_000, Owned(batchBytes, 42))), 4_096);

        var perRead = AllocatedPerCall(count => Reads(count, pages, _services.GetRequiredService<SerializerSessionPool>()), 42L * batchBytes);

        Assert.True(perRead < 512, $"{perRead} B allocated per read of a {batchBytes} B batch from {pages.Length / 4_096 + 1} pages");
    }

    [Fact]
    public void Acks_isolation_level_and_error_code_round_trip_without_a_box()
    {
        var allocated = (EnumRoundTrip(Acks.All), EnumRoundTrip(IsolationLevel.ReadCommitted), EnumRoundTrip(ErrorCode.NotLeaderOrFollower));

        // Without codecs of their own Orleans boxed each to write and to read it: 48 B a round trip.
        Assert.Equal((0L, 0L, 0L), allocated);
    }

    private long EnumRoundTrip<T>(T value) where T : struct, Enum
    {
        var serializer = _services.GetRequiredService<Serializer<T>>();
        var sessions = _services.GetRequiredService<SerializerSessionPool>();
        var wire = new byte[64];
        return AllocatedPerCall(count =>
        {
            long same = 0;
            for (var i = 0; i < count; i++)
            {
                int written;
                using (var session = sessions.GetSession())
                    written = serializer.Serialize(value, wire, session);
                using (var session = sessions.GetSession())
                    if (EqualityComparer<T>.Default.Equals(serializer.Deserialize(wire.AsSpan(0, written), session), value)) same++;
            }
            return same;
        }, 1);
    }

    /// <summary>Bytes the calling thread allocates per call of <paramref name="calls"/>, after a warm-up (the JIT, the pool's first rents, the session pool).</summary>
    private static long AllocatedPerCall(Func<int, long> calls, long checksumPerCall)
    {
        calls(20);
        long checksum = 0;
        // The least of three windows: a background collection can charge one a lump it never allocated (ThreadAllocations).
        var least = ThreadAllocations.Least(_ => checksum = calls(200));
        Assert.Equal(200 * checksumPerCall, checksum);
        return least / 200;
    }

    private long RoundTrips(int count, int batchBytes, byte[] wire, SerializerSessionPool sessions)
    {
        long checksum = 0;
        for (var i = 0; i < count; i++)
        {
            int written;
            using (var session = sessions.GetSession())
                written = Serializer.Serialize(new ProduceRequest(Acks.Leader, 1_000, Owned(batchBytes, 42)), wire, session);
            using (var session = sessions.GetSession())
                checksum += Consume(Serializer.Deserialize<ProduceRequest>(wire.AsSpan(0, written), session)!);
        }
        return checksum;
    }

    private long Reads(int count, ReadOnlySequence<byte> pages, SerializerSessionPool sessions)
    {
        long checksum = 0;
        for (var i = 0; i < count; i++)
        {
            using var session = sessions.GetSession();
            checksum += Consume(Serializer.Deserialize<ProduceRequest>(pages, session)!);
        }
        return checksum;
    }

    private static long Consume(ProduceRequest received)
    {
        var checksum = received.Records.Span[^1] * (long)received.Records.Length;
        received.Records.Dispose();
        return checksum;
    }

    private static ReadOnlySequence<byte> Pages(ReadOnlyMemory<byte> bytes, int pageSize)
    {
        var first = new Page(bytes[..Math.Min(pageSize, bytes.Length)], 0);
        var last = first;
        for (var at = pageSize; at < bytes.Length; at += pageSize)
            last = last.Append(bytes[at..Math.Min(at + pageSize, bytes.Length)]);
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Page : ReadOnlySequenceSegment<byte>
    {
        public Page(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Page Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Page(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
