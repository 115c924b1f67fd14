using OrleansStream.Records;

namespace OrleansStream.Client;

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
