using OrleansStream.Protocol.Messages;
using OrleansStream.Records;

namespace OrleansStream.Protocol.Tests;

/// <summary>
/// KIP-714's GetTelemetrySubscriptions and PushTelemetry v0 (flexible from v0), read from and written back to the
/// bytes Kafka's schemas (GetTelemetrySubscriptions*.json, PushTelemetry*.json) lay out.
/// </summary>
public class TelemetryMessageTests
{
    private const string Id = "00112233445566778899aabbccddeeff";

    [Fact]
    public void GetTelemetrySubscriptions_v0_request()
    {
        var read = FlexibleAdminMessageTests.ReadWriteBack(Hex.Parse($"{Id} 00"), GetTelemetrySubscriptionsRequest.Read, (r, w) => r.Write(w, 0), 0);
        Assert.Equal(Guid.Parse("00112233-4455-6677-8899-aabbccddeeff"), read.ClientInstanceId);
    }

    [Fact]
    public void GetTelemetrySubscriptions_v0_response()
    {
        var bytes = Hex.Parse(
            "00000000 0000" +               // throttle, no error
            $"{Id} 0000007b" +               // client instance id, subscription id 123
            "05 04030102" +                  // accepted compression types [zstd, lz4, gzip, snappy]
            "000001f4 00100000 01" +         // push interval 500, telemetry max bytes 1 MiB, delta temporality
            "03 02 2a 12 6f72672e6170616368652e6b61666b612e" + // requested metrics [ "*", "org.apache.kafka." ]
            "00");
        var read = FlexibleAdminMessageTests.ReadWriteBack(bytes, GetTelemetrySubscriptionsResponse.Read, (r, w) => r.Write(w, 0), 0);
        Assert.Equal(ErrorCode.None, read.Error);
        Assert.Equal(123, read.SubscriptionId);
        Assert.Equal([(sbyte)4, 3, 1, 2], read.AcceptedCompressionTypes);
        Assert.Equal(500, read.PushIntervalMs);
        Assert.Equal(1 << 20, read.TelemetryMaxBytes);
        Assert.True(read.DeltaTemporality);
        Assert.Equal(["*", "org.apache.kafka."], read.RequestedMetrics);
    }

    /// <summary>An error answer leaves every other field at its default, as Kafka's getErrorResponse does.</summary>
    [Fact]
    public void GetTelemetrySubscriptions_v0_error_response()
    {
        using var w = new KafkaWriter();
        GetTelemetrySubscriptionsResponse.Failed(ErrorCode.ThrottlingQuotaExceeded).Write(w, 0);
        Assert.Equal(Hex.Parse("00000000 0059 00000000000000000000000000000000 00000000 01 00000000 00000000 00 01 00"), w.WrittenSpan.ToArray());
    }

    [Fact]
    public void PushTelemetry_v0_request_and_response()
    {
        // instance id, subscription id -1, terminating, zstd, metrics 3 bytes
        var read = FlexibleAdminMessageTests.ReadWriteBack(Hex.Parse($"{Id} ffffffff 01 04 04 0a0b0c 00"), PushTelemetryRequest.Read, (r, w) => r.Write(w, 0), 0);
        Assert.Equal(-1, read.SubscriptionId);
        Assert.True(read.Terminating);
        Assert.Equal(4, read.CompressionType);
        Assert.Equal([0x0a, 0x0b, 0x0c], read.Metrics.ToArray());

        var response = FlexibleAdminMessageTests.ReadWriteBack(Hex.Parse("00000000 0076 00"), PushTelemetryResponse.Read, (r, w) => r.Write(w, 0), 0);
        Assert.Equal(ErrorCode.TelemetryTooLarge, response.Error);
    }

    [Fact]
    public void ListClientMetricsResources_v0()
    {
        FlexibleAdminMessageTests.ReadWriteBack(Hex.Parse("00"), ListClientMetricsResourcesRequest.Read, (r, w) => r.Write(w, 0), 0);
        // throttle, no error, [ { "a" } { "bc" } ]
        var read = FlexibleAdminMessageTests.ReadWriteBack(Hex.Parse("00000000 0000 03 0261 00 036263 00 00"), ListClientMetricsResourcesResponse.Read,
            (r, w) => r.Write(w, 0), 0);
        Assert.Equal(["a", "bc"], read.Names);
    }

    [Fact]
    public void Both_are_flexible_from_v0()
    {
        Assert.True(ApiVersionsTable.IsFlexible(ApiKey.GetTelemetrySubscriptions, 0));
        Assert.True(ApiVersionsTable.IsFlexible(ApiKey.PushTelemetry, 0));
        Assert.True(ApiVersionsTable.IsSupported(ApiKey.GetTelemetrySubscriptions, 0));
        Assert.False(ApiVersionsTable.IsSupported(ApiKey.PushTelemetry, 1));
        Assert.True(ApiVersionsTable.IsFlexible(ApiKey.ListClientMetricsResources, 0));
    }
}
