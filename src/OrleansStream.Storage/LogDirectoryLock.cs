using System.Collections.Concurrent;

namespace OrleansStream.Storage;

/// <summary>
/// Exclusive ownership of one log directory (Kafka's log-dir <c>.lock</c>): at most one open <see cref="PartitionLog"/>
/// writes a directory, since two writers interleave appends, checkpoints and snapshots and corrupt the log. Held in a
/// process-wide registry, which refuses a second holder in this process, and as a <c>.lock</c> file opened with
/// <see cref="FileShare.None"/> (an OS lock), which refuses another process. The OS drops the file lock when the
/// process dies, so the file a crashed process left behind does not block the next start.
/// </summary>
public sealed class LogDirectoryLock : IDisposable
{
    public const string FileName = ".lock";

    private static readonly ConcurrentDictionary<string, LogDirectoryLock> Held = new(StringComparer.Ordinal);

    private FileStream? _file;

    private LogDirectoryLock(string directory) => Directory = directory;

    /// <summary>The full path of the locked directory.</summary>
    public string Directory { get; }

    /// <summary>
    /// Takes the lock of <paramref name="directory"/>, creating the directory when absent; throws
    /// <see cref="LogDirectoryInUseException"/> while another holder (a log not yet closed) has it.
    /// </summary>
    public static LogDirectoryLock Acquire(string directory)
    {
        var path = FullPath(directory);
        var held = new LogDirectoryLock(path);
        if (!Held.TryAdd(path, held))
            throw new LogDirectoryInUseException(path, "a log of this process has it open");
        try
        {
            System.IO.Directory.CreateDirectory(path);
            held._file = new FileStream(Path.Combine(path, FileName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            return held;
        }
        catch (IOException e) when (e is not (FileNotFoundException or DirectoryNotFoundException or PathTooLongException))
        {
            Held.TryRemove(new KeyValuePair<string, LogDirectoryLock>(path, held));
            throw new LogDirectoryInUseException(path, "another process has it locked", e);
        }
        catch
        {
            Held.TryRemove(new KeyValuePair<string, LogDirectoryLock>(path, held));
            throw;
        }
    }

    /// <summary>
    /// Deletes a log directory that no log holds, under its lock, so that a delete and an open of the directory never
    /// overlap; throws <see cref="LogDirectoryInUseException"/> while another holder has it. Nothing when it is absent.
    /// </summary>
    public static void Delete(string directory)
    {
        var path = FullPath(directory);
        if (!System.IO.Directory.Exists(path))
            return;
        using var held = Acquire(path);
        System.IO.Directory.Delete(path, recursive: true);
    }

    /// <summary>Whether this process holds the lock of <paramref name="directory"/>.</summary>
    public static bool IsHeld(string directory) => Held.ContainsKey(FullPath(directory));

    /// <summary>The directory's key: its full path without a trailing separator.</summary>
    internal static string FullPath(string directory) => Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));

    /// <summary>Releases the lock; the <c>.lock</c> file stays (removing it would race a next holder's open).</summary>
    public void Dispose()
    {
        var file = Interlocked.Exchange(ref _file, null);
        if (file is null)
            return;
        file.Dispose();
        Held.TryRemove(new KeyValuePair<string, LogDirectoryLock>(Directory, this));
    }
}

/// <summary>
/// The log directory is held by another open log (a replica still closing, or another process): a storage error for
/// now, which clears once the holder closes.
/// </summary>
public sealed class LogDirectoryInUseException(string directory, string why, Exception? inner = null)
    : IOException($"The log directory {directory} is in use: {why}.", inner)
{
    public string Directory { get; } = directory;
}
