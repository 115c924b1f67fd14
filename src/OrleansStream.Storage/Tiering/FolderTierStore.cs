using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace OrleansStream.Storage.Tiering;

/// <summary>
/// The embedded tier: objects are files under a root folder (by default <c>{data}/tier</c>). Uploads go to a temporary
/// file first and are published with a create-only rename, so a reader never sees half an object. ETags are content
/// hashes; conditional writes are serialised per key within the process (one broker owns a data folder).
/// A whole local file on the same file system (a closed segment and its indexes) is published as a hard link, not a
/// copy: closed segments are immutable, and the one in-place change the log makes to a closed segment, a truncation
/// into it, first gives the segment files of its own (<see cref="PartitionLog.TruncateTo"/>).
/// </summary>
public sealed partial class FolderTierStore : ITierStore
{
    private static readonly ConcurrentDictionary<string, SemaphoreSlim> s_keyLocks = new(StringComparer.Ordinal);
    private readonly string _root;

    public FolderTierStore(string root)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(root);
        _root = Path.GetFullPath(root);
        System.IO.Directory.CreateDirectory(_root);
    }

    public string Root => _root;

    public async Task<bool> UploadAsync(string key, Stream content, CancellationToken cancellationToken = default)
    {
        var path = PathOf(key);
        if (File.Exists(path)) return false;
        var temp = TempPathFor(path);
        try
        {
            if (content is FileStream { CanSeek: true, Position: 0 } source)
            {
                // A whole local file: linked where the tier shares its file system, else copied by the kernel
                // (copy_file_range); a copy through a user buffer cost several times the broker's own appends per byte.
                await Task.Run(() => LinkOrCopyFile(source.Name, temp), cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await using var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous);
                await content.CopyToAsync(file, 1 << 20, cancellationToken).ConfigureAwait(false);
                file.Flush(flushToDisk: true);
            }
            return TryPublish(temp, path);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    public async Task<int> ReadAsync(string key, long position, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        using var handle = OpenForRead(key);
        var total = 0;
        while (total < destination.Length)
        {
            var n = await RandomAccess.ReadAsync(handle, destination[total..], position + total, cancellationToken).ConfigureAwait(false);
            if (n == 0) break;
            total += n;
        }
        return total;
    }

    private Microsoft.Win32.SafeHandles.SafeFileHandle OpenForRead(string key)
    {
        try
        {
            return File.OpenHandle(PathOf(key), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, FileOptions.Asynchronous);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new TierObjectNotFoundException(key, e);
        }
    }

    public async Task<TierObject?> GetAsync(string key, CancellationToken cancellationToken = default)
    {
        byte[] bytes;
        try
        {
            bytes = await File.ReadAllBytesAsync(PathOf(key), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        return new TierObject(bytes, ETagOf(bytes));
    }

    public async Task<string> WriteConditionalAsync(string key, ReadOnlyMemory<byte> content, string? ifMatch, CancellationToken cancellationToken = default)
    {
        var path = PathOf(key);
        var gate = s_keyLocks.GetOrAdd(path, static _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var current = await GetAsync(key, cancellationToken).ConfigureAwait(false);
            if (ifMatch is null ? current is not null : current is null || current.ETag != ifMatch)
                throw new TierConditionFailedException(key);

            var temp = TempPathFor(path);
            try
            {
                await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 4096, FileOptions.Asynchronous))
                {
                    await file.WriteAsync(content, cancellationToken).ConfigureAwait(false);
                    file.Flush(flushToDisk: true);
                }
                File.Move(temp, path, overwrite: true);
            }
            finally
            {
                if (File.Exists(temp)) File.Delete(temp);
            }
            return ETagOf(content.Span);
        }
        finally
        {
            gate.Release();
        }
    }

    public Task<bool> DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        var path = PathOf(key);
        if (!File.Exists(path)) return Task.FromResult(false);
        File.Delete(path);
        return Task.FromResult(true);
    }

    public async IAsyncEnumerable<TierObjectInfo> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        // The prefix may end inside a name, so list the deepest whole folder it names and filter.
        var slash = prefix.LastIndexOf('/');
        var folder = slash < 0 ? _root : Path.Combine(_root, prefix[..slash].Replace('/', Path.DirectorySeparatorChar));
        if (!System.IO.Directory.Exists(folder)) yield break;
        var keys = new List<TierObjectInfo>();
        foreach (var file in System.IO.Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories))
        {
            if (file.EndsWith(".tmp", StringComparison.Ordinal)) continue;
            var key = Path.GetRelativePath(_root, file).Replace(Path.DirectorySeparatorChar, '/');
            if (key.StartsWith(prefix, StringComparison.Ordinal))
                keys.Add(new TierObjectInfo(key, new FileInfo(file).Length));
        }
        keys.Sort(static (a, b) => string.CompareOrdinal(a.Key, b.Key));
        foreach (var info in keys)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return info;
        }
        await Task.CompletedTask.ConfigureAwait(false);
    }

    private string PathOf(string key)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        if (key.Contains("..", StringComparison.Ordinal) || key.StartsWith('/'))
            throw new ArgumentException($"'{key}' is not a valid tier key.", nameof(key));
        return Path.Combine(_root, key.Replace('/', Path.DirectorySeparatorChar));
    }

    private static void LinkOrCopyFile(string source, string destination)
    {
        // link(2) fails across file systems (EXDEV), on file systems without hard links and at the link limit: copy then.
        if (OperatingSystem.IsWindows() || Link(source, destination) != 0)
            File.Copy(source, destination);
        using var handle = File.OpenHandle(destination, FileMode.Open, FileAccess.ReadWrite);
        RandomAccess.FlushToDisk(handle);
    }

    [LibraryImport("libc", EntryPoint = "link", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Link(string existing, string created);

    private static string TempPathFor(string path)
    {
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        return $"{path}.{Guid.NewGuid():N}.tmp";
    }

    private static bool TryPublish(string temp, string path)
    {
        try
        {
            // Without overwrite, .NET publishes with link()+unlink() on Unix: fails if the name exists, never half-visible.
            File.Move(temp, path, overwrite: false);
            return true;
        }
        catch (IOException) when (File.Exists(path))
        {
            return false;
        }
    }

    private static string ETagOf(ReadOnlySpan<byte> content)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(content, hash);
        return Convert.ToHexString(hash[..16]);
    }
}
