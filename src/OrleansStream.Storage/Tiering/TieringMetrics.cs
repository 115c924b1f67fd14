using System.Diagnostics.Metrics;

namespace OrleansStream.Storage.Tiering;

/// <summary>
/// Instruments measured inside the tiering engine, on the broker's meter "OrleansStream". Bytes uploaded and upload
/// lag are reported by the partition grain to the server's metrics from <see cref="TieringPassResult"/> and
/// <see cref="RemoteLogManager.UploadLagSegments"/>, so each figure has one owner.
/// </summary>
public static class TieringMetrics
{
    public const string MeterName = "OrleansStream";

    private static readonly Meter s_meter = new(MeterName);

    public static readonly Counter<long> UploadFailures = s_meter.CreateCounter<long>(
        "orleansstream.tier.upload.failures", unit: "{failure}", description: "Tiering passes that failed and will be retried with back-off.");

    public static readonly Histogram<double> RemoteFetchDuration = s_meter.CreateHistogram<double>(
        "orleansstream.tier.remote_fetch.duration", unit: "ms", description: "Latency of fetches served from the tier (below the local log start).");
}
