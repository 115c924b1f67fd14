using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace OrleansStream.Storage.Tiering;

/// <summary>Tiered storage instruments on the broker's meter "OrleansStream".</summary>
public static class TieringMetrics
{
    public const string MeterName = "OrleansStream";

    private static readonly Meter s_meter = new(MeterName);
    private static readonly ConcurrentDictionary<RemoteLogManager, byte> s_managers = new();

    public static readonly Counter<long> BytesUploaded = s_meter.CreateCounter<long>(
        "orleansstream.tier.uploaded", unit: "By", description: "Bytes of segments and indexes uploaded to the tier.");

    public static readonly Counter<long> SegmentsUploaded = s_meter.CreateCounter<long>(
        "orleansstream.tier.segments_uploaded", unit: "{segment}", description: "Segments whose copy to the tier finished.");

    public static readonly Counter<long> UploadFailures = s_meter.CreateCounter<long>(
        "orleansstream.tier.upload_failures", unit: "{failure}", description: "Tiering passes that failed and will be retried.");

    public static readonly Histogram<double> RemoteFetchDuration = s_meter.CreateHistogram<double>(
        "orleansstream.tier.remote_fetch.duration", unit: "ms", description: "Latency of fetches served from the tier.");

    static TieringMetrics()
    {
        s_meter.CreateObservableGauge("orleansstream.tier.upload_lag", ObserveUploadLag, unit: "{segment}",
            description: "Closed segments below the high watermark not yet copied to the tier.");
    }

    internal static void Track(RemoteLogManager manager) => s_managers.TryAdd(manager, 0);

    internal static void Untrack(RemoteLogManager manager) => s_managers.TryRemove(manager, out _);

    private static IEnumerable<Measurement<int>> ObserveUploadLag()
    {
        foreach (var manager in s_managers.Keys)
        {
            yield return new Measurement<int>(manager.UploadLagSegments,
                new KeyValuePair<string, object?>("topic", manager.Topic),
                new KeyValuePair<string, object?>("partition", manager.Partition));
        }
    }
}
