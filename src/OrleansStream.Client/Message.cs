using OrleansStream.Records;

namespace OrleansStream.Client;

/// <summary>Kafka's timestamp types.</summary>
public enum TimestampType
{
    NotAvailable = 0,
    CreateTime = 1,
    LogAppendTime = 2,
}

/// <summary>A record timestamp: milliseconds since the Unix epoch and what set it.</summary>
public readonly record struct Timestamp(long UnixTimestampMs, TimestampType Type)
{
    public static readonly Timestamp Default = new(0, TimestampType.NotAvailable);

    public Timestamp(DateTime dateTime, TimestampType type = TimestampType.CreateTime)
        : this(DateTimeToUnixTimestampMs(dateTime), type) { }

    public Timestamp(DateTimeOffset dateTimeOffset, TimestampType type = TimestampType.CreateTime)
        : this(dateTimeOffset.ToUnixTimeMilliseconds(), type) { }

    public DateTime UtcDateTime => DateTime.UnixEpoch.AddMilliseconds(UnixTimestampMs);

    public static long DateTimeToUnixTimestampMs(DateTime dateTime) =>
        (long)(dateTime.ToUniversalTime() - DateTime.UnixEpoch).TotalMilliseconds;
}

/// <summary>Record headers: an ordered list of key/value pairs; keys may repeat.</summary>
public sealed class Headers : IReadOnlyList<RecordHeader>
{
    private readonly List<RecordHeader> _headers = [];

    public int Count => _headers.Count;

    public RecordHeader this[int index] => _headers[index];

    public void Add(string key, byte[]? value)
    {
        ArgumentNullException.ThrowIfNull(key);
        _headers.Add(new RecordHeader(key, value));
    }

    public void Add(RecordHeader header) => Add(header.Key, header.Value);

    public void Remove(string key) => _headers.RemoveAll(h => h.Key == key);

    /// <summary>The value of the last header named <paramref name="key"/>.</summary>
    public bool TryGetLastBytes(string key, out byte[]? lastHeader)
    {
        for (var i = _headers.Count - 1; i >= 0; i--)
        {
            if (_headers[i].Key == key)
            {
                lastHeader = _headers[i].Value;
                return true;
            }
        }
        lastHeader = null;
        return false;
    }

    public byte[]? GetLastBytes(string key) =>
        TryGetLastBytes(key, out var v) ? v : throw new KeyNotFoundException($"No header named '{key}'.");

    public List<RecordHeader>.Enumerator GetEnumerator() => _headers.GetEnumerator();

    IEnumerator<RecordHeader> IEnumerable<RecordHeader>.GetEnumerator() => _headers.GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => _headers.GetEnumerator();
}

/// <summary>A message to produce or a consumed one.</summary>
public class Message<TKey, TValue>
{
    public TKey Key { get; set; } = default!;

    public TValue Value { get; set; } = default!;

    /// <summary><see cref="Timestamp.Default"/> lets the producer stamp the current time.</summary>
    public Timestamp Timestamp { get; set; } = Timestamp.Default;

    public Headers? Headers { get; set; }
}

/// <summary>Special offsets, as in Confluent.Kafka (<c>Offset.Beginning</c> ...).</summary>
public static class Offset
{
    /// <summary>The log start offset.</summary>
    public const long Beginning = -2;
    /// <summary>The high watermark: only records produced from now on.</summary>
    public const long End = -1;
    /// <summary>The committed offset of the consumer group.</summary>
    public const long Stored = -1000;
    /// <summary>No offset: the committed one, else <c>auto.offset.reset</c>.</summary>
    public const long Unset = -1001;
}

/// <summary>A partition's low (log start) and high (high watermark) offsets.</summary>
public readonly record struct WatermarkOffsets(long Low, long High);

/// <summary>A partition and a timestamp to look up, for <c>OffsetsForTimes</c>.</summary>
public readonly record struct TopicPartitionTimestamp(TopicPartition TopicPartition, Timestamp Timestamp)
{
    public TopicPartitionTimestamp(string topic, int partition, Timestamp timestamp) : this(new TopicPartition(topic, partition), timestamp) { }

    public string Topic => TopicPartition.Topic;

    public int Partition => TopicPartition.Partition;
}

/// <summary>Confluent's shape on the shared position type.</summary>
public static class TopicPartitionOffsetExtensions
{
    extension(TopicPartitionOffset tpo)
    {
        public string Topic => tpo.TopicPartition.Topic;

        public int Partition => tpo.TopicPartition.Partition;
    }
}
