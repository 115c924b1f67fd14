namespace OrleansStream.Storage.Tiering;

/// <summary>
/// Object storage for tiered segments and manifests: a folder (embedded default) or Azure Blob Storage.
/// Keys are '/'-separated paths. Objects are immutable except those written through <see cref="WriteConditionalAsync"/>.
/// Implementations retry transient failures with back-off and throw once retries are exhausted.
/// </summary>
public interface ITierStore
{
    /// <summary>Uploads a new object from <paramref name="content"/>. Create-only (If-None-Match: *): returns false and
    /// leaves the existing object alone when <paramref name="key"/> exists. An object is visible only when complete.</summary>
    Task<bool> UploadAsync(string key, Stream content, CancellationToken cancellationToken = default);

    /// <summary>Reads up to <c>destination.Length</c> bytes at <paramref name="position"/>; returns the count read
    /// (less only at the end of the object). Throws <see cref="TierObjectNotFoundException"/> when absent.</summary>
    Task<int> ReadAsync(string key, long position, Memory<byte> destination, CancellationToken cancellationToken = default);

    /// <summary>The whole object and its ETag, or null when absent. For small objects (manifests, indexes).</summary>
    Task<TierObject?> GetAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>Writes <paramref name="content"/> if the object's ETag is <paramref name="ifMatch"/> (If-Match), or,
    /// when it is null, only if the object does not exist (If-None-Match: *). Returns the new ETag; throws
    /// <see cref="TierConditionFailedException"/> when the condition does not hold.</summary>
    Task<string> WriteConditionalAsync(string key, ReadOnlyMemory<byte> content, string? ifMatch, CancellationToken cancellationToken = default);

    /// <summary>Deletes the object; false when it did not exist.</summary>
    Task<bool> DeleteAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>Every object whose key starts with <paramref name="prefix"/>, in key order.</summary>
    IAsyncEnumerable<TierObjectInfo> ListAsync(string prefix, CancellationToken cancellationToken = default);
}

public sealed record TierObject(ReadOnlyMemory<byte> Content, string ETag);

public readonly record struct TierObjectInfo(string Key, long Size);

/// <summary>A conditional write lost: someone else changed (or created) the object first.</summary>
public sealed class TierConditionFailedException(string key, Exception? inner = null)
    : OrleansStreamException(ErrorCode.KafkaStorageError, $"Tier object '{key}' was changed concurrently (ETag condition failed).", inner)
{
    public string Key { get; } = key;
}

public sealed class TierObjectNotFoundException(string key, Exception? inner = null)
    : OrleansStreamException(ErrorCode.KafkaStorageError, $"Tier object '{key}' does not exist.", inner)
{
    public string Key { get; } = key;
}
