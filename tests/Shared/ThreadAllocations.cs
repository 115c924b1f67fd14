namespace OrleansStream.TestSupport;

/// <summary>
/// The bytes a piece of code allocates on the calling thread, for the tests that hold a path to no allocation.
/// </summary>
/// <remarks>
/// <see cref="GC.GetAllocatedBytesForCurrentThread"/> counts what the thread's allocation context handed out; a
/// collection that another thread starts retires that context and charges its unused tail (up to a few KB) to the thread
/// in one lump. With the projects' tests running in parallel, one window then reads bytes the code never allocated (CI,
/// 2026-12-06: 1,200 B in a test whose code allocates nothing). The least of several windows is the code's own: an
/// allocation per call shows in every window, a lump in one.
/// </remarks>
internal static class ThreadAllocations
{
    public const int Windows = 3;

    /// <summary>The least bytes any of <see cref="Windows"/> runs of <paramref name="body"/> (given the window's index) allocated.</summary>
    public static long Least(Action<int> body)
    {
        var least = long.MaxValue;
        for (var window = 0; window < Windows; window++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            body(window);
            least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        return least;
    }
}
