using OrleansStream.Records;

namespace OrleansStream.Client;

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
