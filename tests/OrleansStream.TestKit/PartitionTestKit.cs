using System.Text;
using OrleansStream.Records;
using OrleansStream.Server.Controller;

namespace OrleansStream.TestKit;

/// <summary>Helpers for tests that talk to partition replicas through the raw grain API.</summary>
public static class PartitionTestKit
{
    public static string UniqueTopic(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..24];

    /// <summary>One RecordBatch v2 holding <paramref name="values"/> as UTF-8 values with keys "k{i}".</summary>
    public static byte[] Batch(long timestampMs, params string[] values)
    {
        using var builder = new RecordBatchBuilder();
        builder.Reset();
        for (var i = 0; i < values.Length; i++)
            builder.Append(timestampMs, Encoding.UTF8.GetBytes($"k{i}"), Encoding.UTF8.GetBytes(values[i]));
        return builder.ToArray();
    }

    public static byte[] Batch(params string[] values) => Batch(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), values);

    /// <summary>An idempotent producer's batch: <paramref name="values"/> with the producer id, epoch and base sequence.</summary>
    public static byte[] IdempotentBatch(long producerId, short epoch, int baseSequence, params string[] values)
    {
        using var builder = new RecordBatchBuilder();
        builder.Reset(producerId, epoch, baseSequence);
        var timestampMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        for (var i = 0; i < values.Length; i++)
            builder.Append(timestampMs, Encoding.UTF8.GetBytes($"k{i}"), Encoding.UTF8.GetBytes(values[i]));
        return builder.ToArray();
    }

    /// <summary>(offset, value) of every record in fetched batches, skipping offsets below <paramref name="from"/>.</summary>
    public static List<(long Offset, string Value)> RecordsOf(ReadOnlyMemory<byte> batches, long from = 0)
    {
        var result = new List<(long, string)>();
        foreach (var batch in RecordBatchReader.Batches(batches.Span))
            foreach (var record in batch.Records())
                if (record.Offset >= from) result.Add((record.Offset, Encoding.UTF8.GetString(record.Value)));
        return result;
    }

    public static async Task<PartitionMetadata> Partition(this IClusterControllerGrain controller, string topic, int partition)
    {
        var metadata = await controller.GetMetadata(new MetadataRequest([topic]));
        var t = Assert.Single(metadata.Topics);
        Assert.Equal(ErrorCode.None, t.Error);
        return t.Partitions[partition];
    }

    public static async Task<IPartitionReplicaGrain> Leader(this ClusterFixture fixture, string topic, int partition)
    {
        var p = await fixture.Controller.Partition(topic, partition);
        return fixture.Grains.GetGrain<IPartitionReplicaGrain>(GrainKeys.Replica(topic, partition, p.Leader));
    }

    /// <summary>Creates a one-partition topic with two replicas: its state as the controller has it, its leader and its follower.</summary>
    public static async Task<(PartitionState State, IPartitionReplicaGrain Leader, IPartitionReplicaGrain Follower)> CreateLeaderAndFollower(
        this ClusterFixture fixture, string topic)
    {
        await fixture.CreateTopic(topic, replicationFactor: 2);
        var state = (await fixture.Grains.GetGrain<IControllerInternalGrain>(GrainKeys.Controller).GetPartitionState(topic, 0))!;
        return (state,
            fixture.Grains.GetGrain<IPartitionReplicaGrain>(GrainKeys.Replica(topic, 0, state.Leader)),
            fixture.Grains.GetGrain<IPartitionReplicaGrain>(GrainKeys.Replica(topic, 0, 1 - state.Leader)));
    }

    public static async Task CreateTopic(this ClusterFixture fixture, string topic, int partitions = 1, short replicationFactor = 1,
        Dictionary<string, string>? configs = null)
    {
        var result = Assert.Single(await fixture.Controller.CreateTopics([new NewTopic(topic, partitions, replicationFactor, configs)]));
        Assert.Equal(ErrorCode.None, result.Error);
    }

    /// <summary>
    /// The records below <paramref name="end"/> in a replica's segment files on its broker's disk, read beside the
    /// open log: the way to see what a follower holds, since only leaders serve fetches.
    /// </summary>
    public static List<(long Offset, string Value)> ReadLocalLog(string dataDirectory, string topic, int partition, long end)
    {
        var records = new List<(long, string)>();
        foreach (var file in Directory.GetFiles(Path.Combine(dataDirectory, $"{topic}-{partition}"), "*.log").Order(StringComparer.Ordinal))
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            var bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
            records.AddRange(RecordsOf(bytes).Where(r => r.Offset < end));
        }
        return records;
    }

    /// <summary>Reads every record below the high watermark from <paramref name="from"/> on.</summary>
    public static async Task<List<(long Offset, string Value)>> ReadAll(IPartitionReplicaGrain leader, long from = 0)
    {
        var all = new List<(long, string)>();
        var next = from;
        while (true)
        {
            var response = await leader.Fetch(new FetchRequest(next, 1 << 20, MinBytes: 0, MaxWaitMs: 0));
            Assert.Equal(ErrorCode.None, response.Error);
            var records = RecordsOf(response.Records.Memory, next);
            if (records.Count == 0) return all;
            all.AddRange(records);
            next = records[^1].Offset + 1;
        }
    }
}
