using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace OrleansStream.Storage;

/// <summary>
/// A request to start the write-out of a range of a segment's appended bytes to the device: Linux <c>sync_file_range</c>
/// with <c>SYNC_FILE_RANGE_WRITE</c>, which starts the write, waits for no earlier one, and makes nothing durable, as
/// RocksDB's <c>bytes_per_sync</c> does. Left alone, the kernel keeps appended pages dirty for 30 s and then writes
/// what expired in one lump every 5 s; on a VM whose virtual disk competes with its vCPUs such a lump froze every
/// process of the machine for 20-35 ms at a time (docs/performance.md). The call can still wait while the device's
/// queue is full, so it runs off the appender's turn.
/// </summary>
internal sealed partial class SegmentWriteback
{
    private const uint SyncFileRangeWrite = 2;

    private readonly SafeFileHandle _file;

    /// <summary>Holds a reference to <paramref name="file"/> until <see cref="Run"/>: the segment may close before it runs.</summary>
    public SegmentWriteback(SafeFileHandle file, long offset, long count)
    {
        var added = false;
        file.DangerousAddRef(ref added);
        _file = file;
        Offset = offset;
        Count = count;
    }

    /// <summary>Whether this platform can start a range's write-out (Linux); elsewhere the kernel's own writeback runs.</summary>
    public static bool IsSupported => OperatingSystem.IsLinux();

    public long Offset { get; }

    public long Count { get; }

    /// <summary>
    /// Starts the write-out and lets the file go; false if the kernel refused. Nothing needs doing then: its own
    /// writeback still writes the range, and a flush (fsync) reports what is wrong with the device.
    /// </summary>
    public bool Run()
    {
        try
        {
            return SyncFileRange(_file.DangerousGetHandle(), Offset, Count, SyncFileRangeWrite) == 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false; // a libc without the call: the kernel's writeback does it all
        }
        finally
        {
            _file.DangerousRelease();
        }
    }

    [LibraryImport("libc", EntryPoint = "sync_file_range")]
    private static partial int SyncFileRange(nint fd, long offset, long count, uint flags);
}
