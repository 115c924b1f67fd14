using OrleansStream.Cli.Perf;

namespace OrleansStream.EndToEnd.Tests;

public class PerfStatsTests
{
    [Fact]
    public void Histogram_buckets_are_contiguous_and_within_two_percent()
    {
        long previousLow = -1;
        for (long v = 0; v < 5_000_000; v = v < 1000 ? v + 1 : v + v / 97)
        {
            int index = LatencyHistogram.IndexOf(v);
            long low = LatencyHistogram.LowestOf(index);
            Assert.True(low <= v, $"{v}: bucket starts at {low}");
            Assert.True(LatencyHistogram.LowestOf(index + 1) > v, $"{v}: next bucket starts at {LatencyHistogram.LowestOf(index + 1)}");
            Assert.True(Math.Abs(LatencyHistogram.MidpointOf(index) - v) <= Math.Max(1, v / 50), $"{v}: midpoint {LatencyHistogram.MidpointOf(index)}");
            Assert.True(low >= previousLow);
            previousLow = low;
        }
        Assert.True(LatencyHistogram.IndexOf(long.MaxValue) < 4000);
    }

    [Fact]
    public void Percentiles_follow_the_recorded_distribution()
    {
        var histogram = new LatencyHistogram();
        for (int i = 1; i <= 1000; i++)
            histogram.Record(i * 1000L); // 1 ms .. 1000 ms

        Assert.Equal(1000, histogram.Count);
        Assert.Equal(1_000_000, histogram.MaxMicros);
        Assert.InRange(histogram.PercentileMicros(50), 495_000, 505_000);
        Assert.InRange(histogram.PercentileMicros(99), 980_000, 1_000_000);
        Assert.InRange(histogram.PercentileMicros(99.9), 990_000, 1_000_000);
        Assert.InRange(histogram.MeanMicros, 500_499, 500_501);
    }

    [Fact]
    public void Final_line_has_kafka_producer_perf_test_wording()
    {
        var stats = new ProducerPerfStats(TextWriter.Null);
        stats.Record(2_000, 100);
        stats.Record(4_000, 100);

        Assert.Matches(@"^2 records sent, [\d.]+ records/sec \([\d.]+ MB/sec\), 3\.00 ms avg latency, 4\.00 ms max latency, 2\.\d\d ms 50th, 4\.00 ms 95th, 4\.00 ms 99th, 4\.00 ms 99\.9th\.$",
            stats.Total());
    }
}
