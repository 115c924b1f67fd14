using Microsoft.Extensions.Time.Testing;
using OrleansStream.Records;

namespace OrleansStream.Storage.Tests;

public sealed class LogDirectoryLockTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly FakeTimeProvider _time = new(DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000));

    public void Dispose() => _dir.Dispose();

    private string LogDir => Path.Combine(_dir.Path, "events-0");

    private PartitionLog Open(LogConfig? config = null) => PartitionLog.Open(LogDir, config ?? new LogConfig(), _time);

    [Fact]
    public void A_second_open_of_an_open_directory_is_refused_and_opens_once_the_first_is_closed()
    {
        var first = Open();
        first.AppendAsLeader(TestBatches.Sized(3, 10), 0);

        var refused = Assert.Throws<LogDirectoryInUseException>(() => Open());
        Assert.Equal(Path.GetFullPath(LogDir), refused.Directory);
        // The same directory however it is spelled.
        Assert.Throws<LogDirectoryInUseException>(() => PartitionLog.Open(LogDir + Path.DirectorySeparatorChar, new LogConfig(), _time));
        Assert.True(LogDirectoryLock.IsHeld(LogDir));
        // The refused open wrote nothing: the first log goes on appending.
        first.AppendAsLeader(TestBatches.Sized(2, 10), 0);
        first.Dispose();
        Assert.False(LogDirectoryLock.IsHeld(LogDir));

        using var second = Open();
        Assert.Equal(5, second.LogEndOffset);
    }

    [Fact]
    public void A_delete_of_an_open_directory_is_refused_and_deletes_once_the_log_is_closed()
    {
        var log = Open();
        log.AppendAsLeader(TestBatches.Sized(3, 10), 0);

        Assert.Throws<LogDirectoryInUseException>(() => LogDirectoryLock.Delete(LogDir));
        log.AppendAsLeader(TestBatches.Sized(2, 10), 0);
        log.Dispose();
        using (var reopened = Open())
            Assert.Equal(5, reopened.LogEndOffset);

        LogDirectoryLock.Delete(LogDir);
        Assert.False(Directory.Exists(LogDir));
        Assert.False(LogDirectoryLock.IsHeld(LogDir));
        LogDirectoryLock.Delete(LogDir);
        Assert.False(Directory.Exists(LogDir));
    }

    [Fact]
    public void Concurrent_opens_of_one_directory_give_one_log()
    {
        using (var log = Open())
            log.AppendAsLeader(TestBatches.Sized(4, 10), 0);
        const int openers = 4;
        using var start = new Barrier(openers);
        var results = new (PartitionLog? Log, Exception? Error)[openers];
        var threads = new Thread[openers];
        for (var i = 0; i < openers; i++)
        {
            var index = i;
            threads[i] = new Thread(() =>
            {
                start.SignalAndWait();
                try
                {
                    results[index] = (Open(), null);
                }
                catch (Exception e)
                {
                    results[index] = (null, e);
                }
            });
            threads[i].Start();
        }
        foreach (var thread in threads)
            thread.Join();

        var opened = results.Where(r => r.Log is not null).Select(r => r.Log!).ToList();
        var only = Assert.Single(opened);
        Assert.All(results.Where(r => r.Log is null), r => Assert.IsType<LogDirectoryInUseException>(r.Error));
        Assert.Equal(4, only.LogEndOffset);
        only.Dispose();
    }

    [Fact]
    public void Delete_and_a_failed_open_release_the_directory()
    {
        var log = Open();
        log.AppendAsLeader(TestBatches.Sized(2, 10), 0);
        log.Delete();
        Assert.False(LogDirectoryLock.IsHeld(LogDir));
        using (var recreated = Open())
            Assert.Equal(0, recreated.LogEndOffset);

        var invalid = Assert.Throws<OrleansStreamException>(() => Open(new LogConfig { SegmentBytes = -1 }));
        Assert.Equal(ErrorCode.InvalidConfig, invalid.Code);
        Assert.False(LogDirectoryLock.IsHeld(LogDir));
        using var reopened = Open();
        Assert.Equal(0, reopened.LogEndOffset);
    }

    [Fact]
    public void A_lock_another_process_holds_refuses_the_open_and_a_stale_lock_file_does_not()
    {
        Directory.CreateDirectory(LogDir);
        var lockFile = Path.Combine(LogDir, LogDirectoryLock.FileName);
        // As another process holds it: an OS lock on the file, outside this process's registry.
        using (new FileStream(lockFile, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
        {
            var refused = Assert.Throws<LogDirectoryInUseException>(() => Open());
            Assert.Contains("another process", refused.Message, StringComparison.Ordinal);
            Assert.False(LogDirectoryLock.IsHeld(LogDir));
        }

        // The holder died (kill -9): its file stays, the OS dropped its lock.
        Assert.True(File.Exists(lockFile));
        using var log = Open();
        log.AppendAsLeader(TestBatches.Sized(1, 10), 0);
        Assert.Equal(1, log.LogEndOffset);
    }
}
