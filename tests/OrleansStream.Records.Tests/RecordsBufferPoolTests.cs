namespace OrleansStream.Records.Tests;

public sealed class RecordsBufferPoolTests
{
    private const int RequestBytes = 109_996; // a produce request of one batch of 1,000 records of 100 B

    [Fact]
    public void Rents_arrays_by_size_and_hands_a_returned_one_to_the_next_rent_of_its_size()
    {
        var pool = new RecordsBufferPool(RecordsBufferPool.DefaultMaxRetainedBytes);

        var request = pool.Rent(RequestBytes);
        var small = pool.Rent(1);
        Assert.Equal((131_072, RecordsBufferPool.MinArrayLength), (request.Length, small.Length));
        Assert.Equal(2_048, pool.Rent(1_025).Length);
        Assert.Empty(pool.Rent(0));

        pool.Return(request);
        pool.Return(small);

        Assert.Equal(131_072 + 1_024, pool.RetainedBytes);
        Assert.NotSame(request, pool.Rent(RequestBytes * 2)); // another size
        Assert.Same(request, pool.Rent(65_537));
        Assert.Same(small, pool.Rent(1_000));
        Assert.Equal(0, pool.RetainedBytes);
    }

    [Fact]
    public void Keeps_no_more_than_its_bound_nor_an_array_above_its_largest_size_and_refuses_a_foreign_array()
    {
        var pool = new RecordsBufferPool(maxRetainedBytes: 3 << 20);
        var arrays = Enumerable.Range(0, 5).Select(_ => pool.Rent(1 << 20)).ToArray();
        var huge = pool.Rent(RecordsBufferPool.MaxArrayLength + 1);

        foreach (var array in arrays) pool.Return(array);
        pool.Return(huge);

        Assert.Equal(RecordsBufferPool.MaxArrayLength + 1, huge.Length);
        Assert.Equal(3L << 20, pool.RetainedBytes);
        Assert.Throws<ArgumentException>(() => pool.Return(new byte[RequestBytes]));
        Assert.Throws<ArgumentException>(() => pool.Return(new byte[512]));
        Assert.Equal(3, Enumerable.Range(0, 5).Select(_ => pool.Rent(1 << 20)).Count(a => arrays.Contains(a)));
    }

    [Fact]
    public void Renting_on_one_thread_what_new_threads_return_allocates_nothing_at_steady_state()
    {
        // A connection's thread rents each request's buffer and the grain's turn returns it, on whichever thread the
        // pool had then; threads come and go. ArrayPool<byte>.Shared keeps each returned array in the returning thread's
        // own slot first, so every rent here would be a new array of 128 KiB.
        var pool = new RecordsBufferPool(RecordsBufferPool.DefaultMaxRetainedBytes);
        var handedOut = new HashSet<byte[]>(ReferenceEqualityComparer.Instance);
        RentHereReturnElsewhere(pool, 10, handedOut);
        var warm = handedOut.Count;

        // The least of three windows: a background collection can charge a window a lump it never allocated
        // (ThreadAllocations); a new array would show in every window.
        var allocated = long.MaxValue;
        for (var window = 0; window < ThreadAllocations.Windows; window++)
            allocated = Math.Min(allocated, RentHereReturnElsewhere(pool, 70, handedOut));

        Assert.Equal(0, allocated);
        Assert.Equal(warm, handedOut.Count); // every rent got an array the pool had handed out before
    }

    [Fact]
    public void Concurrent_renters_never_get_the_same_array()
    {
        var pool = new RecordsBufferPool(RecordsBufferPool.DefaultMaxRetainedBytes);
        var shared = 0;
        var threads = Enumerable.Range(1, 8).Select(id => new Thread(() =>
        {
            for (var i = 0; i < 2_000; i++)
            {
                var array = pool.Rent(4_000 + (i % 3) * 4_096);
                array.AsSpan(0, 4_000).Fill((byte)id);
                Thread.Yield();
                if (array.AsSpan(0, 4_000).ContainsAnyExcept((byte)id)) Interlocked.Increment(ref shared);
                pool.Return(array);
            }
        })).ToArray();

        foreach (var thread in threads) thread.Start();
        foreach (var thread in threads) thread.Join();

        Assert.Equal(0, shared);
        Assert.InRange(pool.RetainedBytes, 4_096, 8L * (4_096 + 8_192 + 16_384));
    }

    /// <summary>Bytes allocated by the rents on this thread, each array returned by a thread of its own; the arrays rented go to <paramref name="handedOut"/>.</summary>
    private static long RentHereReturnElsewhere(RecordsBufferPool pool, int count, HashSet<byte[]> handedOut)
    {
        long allocated = 0;
        for (var i = 0; i < count; i++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            var array = pool.Rent(RequestBytes);
            allocated += GC.GetAllocatedBytesForCurrentThread() - before;
            handedOut.Add(array);
            var returner = new Thread(() => pool.Return(array));
            returner.Start();
            returner.Join();
        }
        return allocated;
    }
}
