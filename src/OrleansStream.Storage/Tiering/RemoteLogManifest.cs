using System.Text.Json;
using System.Text.Json.Serialization;

namespace OrleansStream.Storage.Tiering;

/// <summary>Kafka's RemoteLogSegmentState: a segment's life in the tier.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<RemoteLogSegmentState>))]
public enum RemoteLogSegmentState
{
    CopySegmentStarted,
    CopySegmentFinished,
    DeleteSegmentStarted,
    DeleteSegmentFinished,
}

/// <summary>
/// Kafka's RemoteLogSegmentMetadata: one tiered segment. <see cref="EndOffset"/> is the last offset it holds (inclusive);
/// <see cref="SegmentLeaderEpochs"/> maps each leader epoch in the segment to its first offset.
/// </summary>
public sealed record RemoteLogSegmentMetadata
{
    public required string SegmentId { get; init; }

    public required long BaseOffset { get; init; }

    public required long EndOffset { get; init; }

    public required long MaxTimestampMs { get; init; }

    public required int SegmentSizeInBytes { get; init; }

    public required RemoteLogSegmentState State { get; init; }

    public required long EventTimestampMs { get; init; }

    public int LeaderEpoch { get; init; } = -1;

    public IReadOnlyList<EpochStart> SegmentLeaderEpochs { get; init; } = [];

    /// <summary>True when the segment is a compaction result that replaced earlier tiered segments of the same range.</summary>
    public bool Compacted { get; init; }

    /// <summary>
    /// KIP-1058's txnIdxEmpty: no transaction aborted in the segment, so read_committed fetches need not read its
    /// <c>.txnindex</c> (there is none). False when unknown (a copy made before it was recorded).
    /// </summary>
    public bool TxnIndexEmpty { get; init; }

    [JsonIgnore]
    public long NextOffset => EndOffset + 1;

    public string KeyPrefix(string topic, int partition) => RemoteLogManifest.SegmentKeyPrefix(topic, partition, BaseOffset, SegmentId);
}

public readonly record struct EpochStart(int Epoch, long StartOffset);

/// <summary>
/// The remote log manifest of one partition, persisted as JSON at <c>{topic}/{partition}/manifest.json</c> in the tier
/// with ETag-conditional writes, so two leaders (a zombie and its successor) can never both change it unnoticed.
/// Segments are kept in base-offset order; finished deletions are dropped from the list.
/// </summary>
public sealed record RemoteLogManifest
{
    public const string FileName = "manifest.json";

    public int Version { get; init; } = 1;

    /// <summary>Leader epoch of the last writer; a writer with an older epoch is fenced.</summary>
    public int WriterLeaderEpoch { get; init; } = -1;

    public List<RemoteLogSegmentMetadata> Segments { get; init; } = [];

    public static string ManifestKey(string topic, int partition) => $"{topic}/{partition}/{FileName}";

    public static string SegmentKeyPrefix(string topic, int partition, long baseOffset, string segmentId)
        => $"{topic}/{partition}/{baseOffset:D20}-{segmentId}";

    /// <summary>The next offset after the last copied segment, or -1 when nothing is tiered.</summary>
    public long CopiedNextOffset()
    {
        long next = -1;
        foreach (var s in Segments)
            if (s.State == RemoteLogSegmentState.CopySegmentFinished && s.NextOffset > next) next = s.NextOffset;
        return next;
    }

    /// <summary>The first offset held in the tier, or -1 when nothing is tiered.</summary>
    public long RemoteLogStartOffset()
    {
        long start = -1;
        foreach (var s in Segments)
            if (s.State == RemoteLogSegmentState.CopySegmentFinished && (start < 0 || s.BaseOffset < start)) start = s.BaseOffset;
        return start;
    }

    /// <summary>The copied segment holding <paramref name="offset"/>, else the first copied segment after it
    /// (compaction leaves gaps), else null.</summary>
    public RemoteLogSegmentMetadata? FindSegmentFor(long offset)
    {
        RemoteLogSegmentMetadata? after = null;
        RemoteLogSegmentMetadata? holding = null;
        foreach (var s in Segments)
        {
            if (s.State != RemoteLogSegmentState.CopySegmentFinished) continue;
            if (s.BaseOffset <= offset && offset <= s.EndOffset)
            {
                // Overlapping copies (after a leader change) hold the same committed records; prefer the newest.
                if (holding is null || s.EventTimestampMs >= holding.EventTimestampMs) holding = s;
            }
            else if (s.BaseOffset > offset && (after is null || s.BaseOffset < after.BaseOffset))
            {
                after = s;
            }
        }
        return holding ?? after;
    }

    public long CopiedSizeInBytes()
    {
        long size = 0;
        foreach (var s in Segments)
            if (s.State == RemoteLogSegmentState.CopySegmentFinished) size += s.SegmentSizeInBytes;
        return size;
    }

    public RemoteLogManifest With(RemoteLogSegmentMetadata segment)
    {
        var list = new List<RemoteLogSegmentMetadata>(Segments.Count + 1);
        var replaced = false;
        foreach (var s in Segments)
        {
            if (s.SegmentId == segment.SegmentId)
            {
                replaced = true;
                if (segment.State != RemoteLogSegmentState.DeleteSegmentFinished) list.Add(segment);
            }
            else
            {
                list.Add(s);
            }
        }
        if (!replaced && segment.State != RemoteLogSegmentState.DeleteSegmentFinished) list.Add(segment);
        list.Sort(static (a, b) => a.BaseOffset != b.BaseOffset ? a.BaseOffset.CompareTo(b.BaseOffset) : a.EventTimestampMs.CompareTo(b.EventTimestampMs));
        return this with { Segments = list };
    }

    public byte[] Serialize() => JsonSerializer.SerializeToUtf8Bytes(this, ManifestJsonContext.Default.RemoteLogManifest);

    public static RemoteLogManifest Deserialize(ReadOnlySpan<byte> json)
    {
        try
        {
            return JsonSerializer.Deserialize(json, ManifestJsonContext.Default.RemoteLogManifest)
                ?? throw new OrleansStreamException(ErrorCode.KafkaStorageError, "The remote log manifest is empty.");
        }
        catch (JsonException e)
        {
            throw new OrleansStreamException(ErrorCode.KafkaStorageError, "The remote log manifest is not valid JSON.", e);
        }
    }
}

/// <summary>A manifest as read from the tier, with the ETag the next conditional write must match (null: not yet created).</summary>
public sealed record VersionedManifest(RemoteLogManifest Manifest, string? ETag)
{
    public static async Task<VersionedManifest> LoadAsync(ITierStore store, string topic, int partition, CancellationToken cancellationToken)
    {
        var obj = await store.GetAsync(RemoteLogManifest.ManifestKey(topic, partition), cancellationToken).ConfigureAwait(false);
        return obj is null ? new VersionedManifest(new RemoteLogManifest(), null) : new VersionedManifest(RemoteLogManifest.Deserialize(obj.Content.Span), obj.ETag);
    }

    public async Task<VersionedManifest> SaveAsync(ITierStore store, string topic, int partition, RemoteLogManifest next, CancellationToken cancellationToken)
    {
        var etag = await store.WriteConditionalAsync(RemoteLogManifest.ManifestKey(topic, partition), next.Serialize(), ETag, cancellationToken).ConfigureAwait(false);
        return new VersionedManifest(next, etag);
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = false)]
[JsonSerializable(typeof(RemoteLogManifest))]
internal sealed partial class ManifestJsonContext : JsonSerializerContext;
