using System.Text;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Microsoft.Extensions.Logging;
using OrleansStream.Records;
using Streamiz.Kafka.Net;
using Streamiz.Kafka.Net.SerDes;
using Streamiz.Kafka.Net.Stream;
using Streamiz.Kafka.Net.Table;

namespace OrleansStream.Kafka.Tests;

using AutoOffsetReset = Confluent.Kafka.AutoOffsetReset;
using IsolationLevel = Confluent.Kafka.IsolationLevel;
using TopicPartition = Confluent.Kafka.TopicPartition;
using TopicPartitionOffset = Confluent.Kafka.TopicPartitionOffset;

/// <summary>Streamiz.Kafka.Net (a .NET port of Kafka Streams on librdkafka) against the brokers' Kafka listeners,
/// nothing changed but bootstrap.servers.</summary>
[Collection(KafkaClusterCollection.Name)]
public sealed class StreamizTests(KafkaCluster cluster)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private StreamConfig<StringSerDes, StringSerDes> Config(string applicationId, ProcessingGuarantee guarantee) => new()
    {
        ApplicationId = applicationId,
        BootstrapServers = cluster.BootstrapServers,
        Guarantee = guarantee,
        AutoOffsetReset = AutoOffsetReset.Earliest,
        CommitIntervalMs = 200,
        Logger = LoggerFactory.Create(b => b.AddConsole().SetMinimumLevel(LogLevel.Warning)),
    };

    [Fact]
    public async Task A_stateless_topology_maps_and_filters_every_input_record_at_least_once()
    {
        var input = await cluster.CreateTopicAsync("sz-in", partitions: 3);
        var output = await cluster.CreateTopicAsync("sz-out", partitions: 3);
        var sent = await ProduceAsync(input, Enumerable.Range(0, 30).Select(i => ($"k{i}", $"v{i}")));

        var builder = new StreamBuilder();
        builder.Stream<string, string>(input)
            .Filter((_, v, _) => int.Parse(v.AsSpan(1)) % 3 != 0)
            .MapValues((v, _) => v.ToUpperInvariant())
            .To(output);
        using (var stream = new KafkaStream(builder.Build(), Config("sz-map-" + Guid.NewGuid().ToString("N"), ProcessingGuarantee.AT_LEAST_ONCE)))
        {
            await stream.StartAsync(TestContext.Current.CancellationToken);
            var expected = sent.Where(r => int.Parse(r.Value.AsSpan(1)) % 3 != 0).Select(r => (r.Key, r.Value.ToUpperInvariant())).Order().ToList();
            var read = ReadToEnd(output, 3, IsolationLevel.ReadUncommitted, expected.Count);
            Assert.Equal(expected, read.Select(r => (r.Message.Key, r.Message.Value)).Order());
            // Each record keeps its key, and the key its partition: Java's murmur2, as our SDK and Kafka Streams put it.
            Assert.All(read, r => Assert.Equal(Murmur2.Partition(Encoding.UTF8.GetBytes(r.Message.Key), 3), r.Partition.Value));
        }
    }

    [Fact]
    public async Task A_count_by_a_new_key_goes_through_a_repartition_topic_and_a_compacted_changelog()
    {
        var input = await cluster.CreateTopicAsync("sz-words", partitions: 2);
        var output = await cluster.CreateTopicAsync("sz-counts", partitions: 2);
        var words = new[] { "kafka", "orleans", "stream", "kafka", "log", "kafka", "stream", "orleans", "kafka", "log", "grain" };
        await ProduceAsync(input, words.Select((w, i) => ($"line{i}", w)));

        var applicationId = "sz-count-" + Guid.NewGuid().ToString("N");
        var builder = new StreamBuilder();
        builder.Stream<string, string>(input)
            .GroupBy((_, word, _) => word)
            .Count(InMemory.As<string, long>("counts"))
            .ToStream()
            .MapValues((count, _) => count.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .To(output);
        using (var stream = new KafkaStream(builder.Build(), Config(applicationId, ProcessingGuarantee.AT_LEAST_ONCE)))
        {
            await stream.StartAsync(TestContext.Current.CancellationToken);
            var expected = words.GroupBy(w => w).ToDictionary(g => g.Key, g => g.Count().ToString(System.Globalization.CultureInfo.InvariantCulture));
            var last = new Dictionary<string, string>();
            await Eventually.WaitUntilAsync(() =>
            {
                foreach (var r in ReadAvailable(output, 2)) last[r.Message.Key] = r.Message.Value;
                return expected.All(kv => last.GetValueOrDefault(kv.Key) == kv.Value);
            }, $"the counts of {output} reach their totals", Wait);
            Assert.Equal(expected.OrderBy(kv => kv.Key), last.OrderBy(kv => kv.Key));

            // Kafka Streams purges a repartition topic up to the offsets it committed, with DeleteRecords.
            var repartition = new[] { new TopicPartition($"{applicationId}-counts-repartition", 0), new TopicPartition($"{applicationId}-counts-repartition", 1) };
            using var consumer = new ConsumerBuilder<string, string>(Consumer(IsolationLevel.ReadUncommitted)).Build();
            await Eventually.WaitUntilAsync(() =>
            {
                var watermarks = repartition.Select(tp => consumer.QueryWatermarkOffsets(tp, Wait)).ToList();
                return watermarks.Sum(w => w.High.Value) == words.Length && watermarks.All(w => w.Low == w.High);
            }, $"{applicationId} purges its repartition topic", Wait);
        }

        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).Build();
        var topics = admin.GetMetadata(Wait).Topics.Select(t => t.Topic).Where(t => t.StartsWith(applicationId, StringComparison.Ordinal)).Order().ToList();
        Assert.Equal([$"{applicationId}-counts-changelog", $"{applicationId}-counts-repartition"], topics);
        var configs = await admin.DescribeConfigsAsync([new ConfigResource { Type = ResourceType.Topic, Name = $"{applicationId}-counts-changelog" }]);
        Assert.Equal("compact", configs[0].Entries["cleanup.policy"].Value);
        // Kafka Streams' repartition topic configs, as CreateTopics gave them.
        configs = await admin.DescribeConfigsAsync([new ConfigResource { Type = ResourceType.Topic, Name = $"{applicationId}-counts-repartition" }]);
        Assert.Equal(
            [("cleanup.policy", "delete"), ("message.timestamp.type", "CreateTime"), ("retention.ms", "-1"), ("segment.bytes", "52428800")],
            Overrides(configs[0]));
    }

    [Fact]
    public async Task A_windowed_count_keeps_its_windows_in_a_compacted_and_deleted_changelog()
    {
        var input = await cluster.CreateTopicAsync("sz-clicks", partitions: 2);
        var output = await cluster.CreateTopicAsync("sz-windows", partitions: 2);
        var start = (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 60_000 - 10) * 60_000;
        using (var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = cluster.BootstrapServers }).Build())
        {
            for (var i = 0; i < 12; i++)
                producer.Produce(input, new Message<string, string> { Key = $"u{i % 2}", Value = $"c{i}", Timestamp = new Timestamp(start + i * 20_000, TimestampType.CreateTime) });
            Assert.Equal(0, producer.Flush(Wait));
        }

        var applicationId = "sz-window-" + Guid.NewGuid().ToString("N");
        var builder = new StreamBuilder();
        builder.Stream<string, string>(input)
            .GroupByKey()
            .WindowedBy(TumblingWindowOptions.Of(TimeSpan.FromMinutes(1)))
            .Count(InMemoryWindows.As<string, long>("clicks"))
            .ToStream()
            .Map((w, count, _) => KeyValuePair.Create($"{w.Key}@{(w.Window.StartMs - start) / 60_000}", count.ToString(System.Globalization.CultureInfo.InvariantCulture)))
            .To(output);
        using (var stream = new KafkaStream(builder.Build(), Config(applicationId, ProcessingGuarantee.AT_LEAST_ONCE)))
        {
            await stream.StartAsync(TestContext.Current.CancellationToken);
            var last = new Dictionary<string, string>();
            await Eventually.WaitUntilAsync(() =>
            {
                foreach (var r in ReadAvailable(output, 2)) last[r.Message.Key] = r.Message.Value;
                return last.Count == 8;
            }, $"the windows of {output} are counted", Wait, () => string.Join(", ", last.OrderBy(kv => kv.Key)));
            // Twelve clicks 20 s apart, alternating users: three to a one-minute window.
            Assert.Equal(["u0@0=2", "u0@1=1", "u0@2=2", "u0@3=1", "u1@0=1", "u1@1=2", "u1@2=1", "u1@3=2"], last.Select(kv => $"{kv.Key}={kv.Value}").Order());
        }
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).Build();
        var configs = await admin.DescribeConfigsAsync([new ConfigResource { Type = ResourceType.Topic, Name = $"{applicationId}-clicks-changelog" }]);
        // A window store's changelog is compacted and deleted: its retention is the windows' (one day) and one more day.
        Assert.Equal(
            [("cleanup.policy", "compact,delete"), ("message.timestamp.type", "CreateTime"), ("retention.ms", "172800000")],
            Overrides(configs[0]));
    }

    [Fact]
    public async Task Exactly_once_copies_and_counts_each_record_once_across_an_aborted_transaction_and_a_restart()
    {
        var input = await cluster.CreateTopicAsync("sz-eos-in", partitions: 2);
        var counts = await cluster.CreateTopicAsync("sz-eos-counts", partitions: 2);
        var copy = "sz-eos-copy-" + Guid.NewGuid().ToString("N")[..8];
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).Build();
        // Too small for one record: its produce fails with MessageTooLarge, and the transaction must abort.
        await admin.CreateTopicsAsync([new TopicSpecification { Name = copy, NumPartitions = 2, ReplicationFactor = 1, Configs = new() { ["max.message.bytes"] = "1000" } }]);
        var applicationId = "sz-eos-" + Guid.NewGuid().ToString("N");
        StreamBuilder Topology()
        {
            var builder = new StreamBuilder();
            var source = builder.Stream<string, string>(input);
            source.GroupByKey()
                .Count(InMemory.As<string, long>("eos-counts"))
                .ToStream()
                .MapValues((count, _) => count.ToString(System.Globalization.CultureInfo.InvariantCulture))
                .To(counts);
            source.MapValues((v, _) => v == "v70" ? v + new string('!', 2000) : v.ToUpperInvariant()).To(copy);
            return builder;
        }
        StreamConfig<StringSerDes, StringSerDes> ExactlyOnce()
        {
            var config = Config(applicationId, ProcessingGuarantee.EXACTLY_ONCE);
            // librdkafka's transaction.timeout.ms (and message.timeout.ms, which must not exceed it).
            config.TransactionTimeoutMs = 3000;
            config.MessageTimeoutMs = 3000;
            // Streamiz leaves a thread's consumer open when its commit fails on closing: librdkafka takes it out of
            // the group once it has not been polled for max.poll.interval.ms, and the successor's rebalance goes on.
            config.SessionTimeoutMs = 6000;
            config.MaxPollIntervalMs = 6000;
            return config;
        }

        var sent = await ProduceAsync(input, Records(0, 40));
        using (var stream = new KafkaStream(Topology().Build(), ExactlyOnce()))
        {
            var states = new List<KafkaStream.State>();
            stream.StateChanged += (_, state) => { lock (states) states.Add(state); };
            await stream.StartAsync(TestContext.Current.CancellationToken);
            await Eventually.WaitUntilAsync(() => ReadAvailable(copy, 2, IsolationLevel.ReadCommitted).Count == 40, $"{applicationId} commits the first records", Wait);
            sent.AddRange(await ProduceAsync(input, Records(40, 40)));
            // Streamiz 1.8 stops the thread without aborting (its commit on closing fails, and it leaves the producer
            // as it is): the transaction coordinator aborts the transaction when transaction.timeout.ms has passed.
            await Eventually.WaitUntilAsync(() => { lock (states) return states.Contains(KafkaStream.State.ERROR); }, $"{applicationId} fails on v70", Wait,
                () => { lock (states) return string.Join(", ", states); });
        }
        await admin.IncrementalAlterConfigsAsync(new Dictionary<ConfigResource, List<ConfigEntry>>
        {
            [new ConfigResource { Type = ResourceType.Topic, Name = copy }] = [new ConfigEntry { Name = "max.message.bytes", IncrementalOperation = AlterConfigOpType.Delete }],
        });
        sent.AddRange(await ProduceAsync(input, Records(80, 20)));
        // The same application.id: it resumes from the offsets committed with the last committed transaction, and
        // restores its count from the changelog's committed records.
        using (var stream = new KafkaStream(Topology().Build(), ExactlyOnce()))
        {
            await stream.StartAsync(TestContext.Current.CancellationToken);
            var expected = sent.Select(r => (r.Key, r.Value == "v70" ? r.Value + new string('!', 2000) : r.Value.ToUpperInvariant())).Order().ToList();
            var copied = ReadToEnd(copy, 2, IsolationLevel.ReadCommitted, expected.Count);
            Assert.Equal(expected, copied.Select(r => (r.Message.Key, r.Message.Value)).Order());

            var last = new Dictionary<string, string>();
            await Eventually.WaitUntilAsync(() =>
            {
                foreach (var r in ReadAvailable(counts, 2, IsolationLevel.ReadCommitted)) last[r.Message.Key] = r.Message.Value;
                return last.Count == 5 && last.Values.All(v => v == "20");
            }, $"the counts of {counts} reach 20 each", Wait, () => string.Join(", ", last.OrderBy(kv => kv.Key)));
        }
        // The aborted transaction's records are in the logs, and read_committed skipped them.
        Assert.True(ReadAvailable(copy, 2).Count > sent.Count, "the aborted transaction wrote copies");
    }

    [Fact]
    public async Task Exactly_once_counts_each_record_once_while_a_second_instance_joins_and_takes_tasks()
    {
        var input = await cluster.CreateTopicAsync("sz-scale-in", partitions: 4);
        var output = await cluster.CreateTopicAsync("sz-scale-out", partitions: 4);
        var applicationId = "sz-scale-" + Guid.NewGuid().ToString("N");
        StreamBuilder Topology()
        {
            var builder = new StreamBuilder();
            builder.Stream<string, string>(input)
                .GroupByKey()
                .Count(InMemory.As<string, long>("scale-counts"))
                .ToStream()
                .MapValues((count, _) => count.ToString(System.Globalization.CultureInfo.InvariantCulture))
                .To(output);
            return builder;
        }
        StreamConfig<StringSerDes, StringSerDes> TwoThreads()
        {
            var config = Config(applicationId, ProcessingGuarantee.EXACTLY_ONCE);
            config.NumStreamThreads = 2;
            return config;
        }

        await ProduceAsync(input, Enumerable.Range(0, 200).Select(i => ($"k{i % 10}", $"v{i}")));
        using var first = new KafkaStream(Topology().Build(), TwoThreads());
        await first.StartAsync(TestContext.Current.CancellationToken);
        await Eventually.WaitUntilAsync(() => ReadAvailable(output, 4, IsolationLevel.ReadCommitted).Count > 0, $"{applicationId} commits counts", Wait);
        // The second instance's threads join the group: tasks move between instances, each committing its
        // transaction as its task is revoked and the new owner restoring the count from the changelog.
        using var second = new KafkaStream(Topology().Build(), TwoThreads());
        await second.StartAsync(TestContext.Current.CancellationToken);
        await ProduceAsync(input, Enumerable.Range(200, 200).Select(i => ($"k{i % 10}", $"v{i}")));

        var sequences = new Dictionary<string, List<string>>();
        await Eventually.WaitUntilAsync(() =>
        {
            sequences.Clear();
            foreach (var r in ReadAvailable(output, 4, IsolationLevel.ReadCommitted))
                (sequences.TryGetValue(r.Message.Key, out var values) ? values : sequences[r.Message.Key] = []).Add(r.Message.Value);
            return sequences.Count == 10 && sequences.Values.All(v => v[^1] == "40");
        }, $"the counts of {output} reach 40 each", Wait, () => string.Join(", ", sequences.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key}={kv.Value[^1]}")));
        // Each increment once: no record counted twice across the rebalances.
        var increments = Enumerable.Range(1, 40).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.All(sequences.Values, values => Assert.Equal(increments, values));

        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).Build();
        var group = Assert.Single((await admin.DescribeConsumerGroupsAsync([applicationId])).ConsumerGroupDescriptions);
        Assert.Equal(4, group.Members.Count);
        Assert.Equal(4, group.Members.Sum(m => m.Assignment.TopicPartitions.Count));
    }

    [Fact]
    public async Task A_stream_joined_with_a_global_table_sees_every_partition_of_the_table()
    {
        var users = await cluster.CreateTopicAsync("sz-users", partitions: 2);
        var clicks = await cluster.CreateTopicAsync("sz-clicks", partitions: 2);
        var output = await cluster.CreateTopicAsync("sz-named", partitions: 2);
        await ProduceAsync(users, Enumerable.Range(0, 6).Select(i => ($"u{i}", $"name{i}")));
        await ProduceAsync(clicks, Enumerable.Range(0, 12).Select(i => ($"c{i}", $"u{i % 6}")));

        var builder = new StreamBuilder();
        var names = builder.GlobalTable<string, string>(users, InMemory.As<string, string>("users"));
        builder.Stream<string, string>(clicks)
            .Join(names, (_, user) => user, (user, name) => $"{user}:{name}")
            .To(output);
        using var stream = new KafkaStream(builder.Build(), Config("sz-global-" + Guid.NewGuid().ToString("N"), ProcessingGuarantee.AT_LEAST_ONCE));
        await stream.StartAsync(TestContext.Current.CancellationToken);
        var read = ReadToEnd(output, 2, IsolationLevel.ReadUncommitted, 12);
        Assert.Equal(Enumerable.Range(0, 12).Select(i => ($"c{i}", $"u{i % 6}:name{i % 6}")).Order(), read.Select(r => (r.Message.Key, r.Message.Value)).Order());
    }

    private static List<(string, string)> Overrides(DescribeConfigsResult result) =>
        result.Entries.Values.Where(e => e.Source == ConfigSource.DynamicTopicConfig).Select(e => (e.Name, e.Value)).Order().ToList();

    private static IEnumerable<(string Key, string Value)> Records(int start, int count) =>
        Enumerable.Range(start, count).Select(i => ($"k{i % 5}", $"v{i}"));

    private async Task<List<(string Key, string Value)>> ProduceAsync(string topic, IEnumerable<(string Key, string Value)> records)
    {
        var sent = new List<(string, string)>();
        using var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = cluster.BootstrapServers, Partitioner = Partitioner.Murmur2Random }).Build();
        foreach (var (key, value) in records)
        {
            sent.Add((key, value));
            producer.Produce(topic, new Message<string, string> { Key = key, Value = value });
        }
        Assert.Equal(0, producer.Flush(Wait));
        return sent;
    }

    private ConsumerConfig Consumer(IsolationLevel isolation) => new()
    {
        BootstrapServers = cluster.BootstrapServers,
        GroupId = "unused-" + Guid.NewGuid().ToString("N"),
        EnableAutoCommit = false,
        AutoOffsetReset = AutoOffsetReset.Earliest,
        IsolationLevel = isolation,
        EnablePartitionEof = true,
    };

    private List<ConsumeResult<string, string>> ReadAvailable(string topic, int partitions, IsolationLevel isolation = IsolationLevel.ReadUncommitted)
    {
        using var consumer = new ConsumerBuilder<string, string>(Consumer(isolation)).Build();
        consumer.Assign(Enumerable.Range(0, partitions).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        var read = new List<ConsumeResult<string, string>>();
        var ended = new HashSet<int>();
        var deadline = DateTime.UtcNow + Wait;
        while (ended.Count < partitions && DateTime.UtcNow < deadline)
        {
            if (consumer.Consume(TimeSpan.FromSeconds(1)) is not { } r) continue;
            if (r.IsPartitionEOF) ended.Add(r.Partition.Value);
            else read.Add(r);
        }
        return read;
    }

    private List<ConsumeResult<string, string>> ReadToEnd(string topic, int partitions, IsolationLevel isolation, int expected)
    {
        using var consumer = new ConsumerBuilder<string, string>(Consumer(isolation)).Build();
        consumer.Assign(Enumerable.Range(0, partitions).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        return Consuming.ToEnd(consumer, partitions, expected);
    }
}
