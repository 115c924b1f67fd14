using System.Buffers.Text;

namespace OrleansStream.Server.Partitions;

/// <summary>
/// Kafka's <c>partition.metadata</c>: the topic id a partition directory belongs to. A directory left behind by a
/// deleted topic (its broker was down during the delete) is recognised by its old id and wiped before reuse.
/// </summary>
internal static class PartitionMetadataFile
{
    public const string FileName = "partition.metadata";

    public static void EnsureTopicId(string directory, Guid topicId)
    {
        var path = Path.Combine(directory, FileName);
        var expected = Format(topicId);
        if (File.Exists(path))
        {
            if (File.ReadAllText(path) == expected) return;
            // The caller holds the directory's lock, whose file stays.
            foreach (var entry in Directory.EnumerateFileSystemEntries(directory))
            {
                if (Path.GetFileName(entry) == Storage.LogDirectoryLock.FileName) continue;
                if (Directory.Exists(entry)) Directory.Delete(entry, recursive: true);
                else File.Delete(entry);
            }
        }
        Directory.CreateDirectory(directory);
        var temp = path + ".tmp";
        File.WriteAllText(temp, expected);
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>The topic id recorded in <paramref name="directory"/>, false when it has no readable metadata file.</summary>
    public static bool TryReadTopicId(string directory, out Guid topicId)
    {
        topicId = Guid.Empty;
        string text;
        try
        {
            text = File.ReadAllText(Path.Combine(directory, FileName));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
        const string Prefix = "topic_id: ";
        var start = text.IndexOf(Prefix, StringComparison.Ordinal);
        if (start < 0) return false;
        var id = text.AsSpan(start + Prefix.Length);
        if (id.IndexOf('\n') is var end and >= 0) id = id[..end];
        Span<byte> bytes = stackalloc byte[16];
        if (Base64Url.DecodeFromChars(id, bytes, out _, out var written) != System.Buffers.OperationStatus.Done || written != 16) return false;
        topicId = new Guid(bytes, bigEndian: true);
        return true;
    }

    // Kafka prints a Uuid as URL-safe base64 without padding.
    private static string Format(Guid topicId)
    {
        Span<byte> bytes = stackalloc byte[16];
        topicId.TryWriteBytes(bytes, bigEndian: true, out _);
        return $"version: 0\ntopic_id: {Base64Url.EncodeToString(bytes)}\n";
    }
}
