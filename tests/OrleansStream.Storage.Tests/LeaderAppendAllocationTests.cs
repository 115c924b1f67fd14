using Microsoft.Extensions.Time.Testing;

namespace OrleansStream.Storage.Tests;

/// <summary>
/// The leader's append on the produce path: a produce request's own records are stamped where they lie, and what an
/// append allocates does not grow with the size of its batches.
/// </summary>
public sealed class LeaderAppendAllocationTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly FakeTimeProvider _time = new(DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000));

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void In_place_the_callers_batches_get_their_offsets_and_epoch_and_the_log_holds_the_same_bytes()
    {
        using var log = PartitionLog.Open(_dir.Path, new LogConfig(), _time);
        log.AppendAsLeader(TestBatches.Sized(3, 10), leaderEpoch: 4);
        var owned = TestBatches.Concat(TestBatches.Sized(2, 10), TestBatches.Sized(5, 10));

        var info = log.AppendAsLeaderInPlace(owned, leaderEpoch: 4);

        Assert.Equal((3L, 9L, 2), (info.FirstOffset, info.LastOffset, info.BatchCount));
        Assert.Equal([(3L, 4L), (5L, 9L)], TestBatches.Walk(owned).Select(b => (b.Base, b.Last)));
        Assert.Equal(4, TestBatches.LeaderEpoch(owned));
        Assert.Equal(owned, log.Read(3, 1 << 20).ToArray());
    }

    [Fact]
    public void In_place_a_refused_append_leaves_the_callers_batches_and_the_log_as_they_were()
    {
        using var log = PartitionLog.Open(_dir.Path, new LogConfig(), _time);
        var corrupt = TestBatches.Sized(2, 10);
        corrupt[^1] ^= 0xFF; // the CRC no longer matches
        var sent = corrupt.ToArray();

        var refused = Assert.Throws<OrleansStreamException>(() => log.AppendAsLeaderInPlace(corrupt, leaderEpoch: 1));

        Assert.Equal(ErrorCode.CorruptMessage, refused.Code);
        Assert.Equal(sent, corrupt);
        Assert.Equal(0, log.LogEndOffset);
    }

    [Theory]
    [InlineData(9)]
    [InlineData(1_000)]
    public void An_append_allocates_a_fixed_budget_whatever_the_size_of_its_batch(int records)
    {
        using var log = PartitionLog.Open(_dir.Path, new LogConfig(), _time);
        var batch = TestBatches.Sized(records, 100);
        var owned = new byte[batch.Length];
        for (var i = 0; i < 50; i++) Append(log, batch, owned); // warm-up: the JIT, the segment's first index pages

        // The least of three windows of 200 appends: a collection started by another test's thread can charge this
        // thread a lump of a few KB in one window (CI, da780f0: 48 B an append in one run).
        const int PerWindow = 200;
        var perAppend = ThreadAllocations.Least(_ =>
        {
            for (var i = 0; i < PerWindow; i++) Append(log, batch, owned);
        }) / PerWindow;

        Assert.Equal((50L + ThreadAllocations.Windows * PerWindow) * records, log.LogEndOffset);
        // 0 B for 1 KB batches; 23 B for 110 KB ones, the offset and time indexes' arrays doubling as they fill (an
        // entry per batch here, one per 4 KiB at most: index.interval.bytes). The leader epoch cache's closure per
        // append made it 32 and 55 B.
        Assert.True(perAppend < 32, $"{perAppend} B allocated per append of a {batch.Length} B batch");
    }

    private static void Append(PartitionLog log, byte[] batch, byte[] owned)
    {
        batch.CopyTo(owned);
        log.AppendAsLeaderInPlace(owned, leaderEpoch: 0);
    }
}
