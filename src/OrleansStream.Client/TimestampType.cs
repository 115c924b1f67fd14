using OrleansStream.Records;

namespace OrleansStream.Client;

/// <summary>Kafka's timestamp types.</summary>
public enum TimestampType
{
    NotAvailable = 0,
    CreateTime = 1,
    LogAppendTime = 2,
}
