namespace OrleansStream.Records.Tests;

public class PooledRecordsTests
{
    [Fact]
    public void A_rented_buffer_is_the_owners_until_disposed_then_unreadable()
    {
        var records = PooledRecords.Rent(100);
        Assert.True(records.IsOwned);
        Assert.Equal(100, records.Length);
        records.WritableSpan.Fill(7);
        records.Truncate(60);
        Assert.Equal(60, records.Span.Length);
        Assert.All(records.Memory.ToArray(), b => Assert.Equal(7, b));

        records.Dispose();

        Assert.Throws<ObjectDisposedException>(() => records.Span.Length);
        Assert.Throws<ObjectDisposedException>(() => records.Memory);
    }

    [Fact]
    public void A_second_dispose_is_two_owners_and_throws_in_debug_builds()
    {
        var records = PooledRecords.Rent(10);
        records.Dispose();
#if DEBUG
        Assert.Throws<InvalidOperationException>(records.Dispose);
#else
        records.Dispose();
#endif
    }

    [Fact]
    public void A_borrowed_view_stays_its_lenders_and_dispose_leaves_it_readable()
    {
        var bytes = new byte[] { 1, 2, 3 };
        var view = PooledRecords.Borrow(bytes);
        Assert.False(view.IsOwned);

        view.Dispose();
        view.Dispose();

        Assert.Equal(bytes, view.Span.ToArray());
        Assert.Throws<InvalidOperationException>(() => view.WritableSpan.Length);
        Assert.Same(PooledRecords.Empty, PooledRecords.Borrow(ReadOnlyMemory<byte>.Empty));
        Assert.Same(PooledRecords.Empty, PooledRecords.Rent(0));
    }

    [Fact]
    public void A_lent_view_is_written_by_its_receiver_in_the_lenders_memory_and_stays_the_lenders()
    {
        var frame = new byte[] { 0, 1, 2, 3, 4, 5 };
        var lent = PooledRecords.Lend(frame.AsMemory(2, 3));
        Assert.False(lent.IsOwned);
        Assert.True(lent.IsWritable);
        Assert.False(PooledRecords.Borrow(frame).IsWritable);
        Assert.True(PooledRecords.Rent(1).IsWritable);

        lent.WritableSpan.Fill(9);
        lent.Dispose();

        Assert.Equal([0, 1, 9, 9, 9, 5], frame);
        Assert.Equal([9, 9, 9], lent.Span.ToArray());
        Assert.Throws<InvalidOperationException>(() => lent.Truncate(1));
        Assert.Same(PooledRecords.Empty, PooledRecords.Lend(Memory<byte>.Empty));
    }

#if DEBUG
    [Fact]
    public void A_returned_array_is_overwritten_in_debug_builds_so_a_stale_reader_fails_the_crc()
    {
        var records = PooledRecords.Rent(32);
        records.WritableSpan.Fill(1);
        var stale = records.Memory;

        records.Dispose();

        Assert.All(stale.ToArray(), b => Assert.Equal(0xDE, b));
    }
#endif
}
