using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text.Json;
using Confluent.Kafka;
using OrleansStream.Cli.Perf;
using OrleansStream.Protocol;

// kafka-perf produce BOOTSTRAP TOPIC RECORDS SIZE ACKS [key=value ...]   (acks: 0, 1, all; librdkafka properties last;
//   throughput=N, not a librdkafka property, holds the rate at N records/s as Kafka's perf tool does)
// kafka-perf consume BOOTSTRAP TOPIC RECORDS [key=value ...]
// kafka-perf consume-group BOOTSTRAP TOPIC GROUP STOP_FILE [key=value ...]   (one member of a group; stays until STOP_FILE exists)
// kafka-perf idle HOST PORT CONNECTIONS SILO_PID
// Output lines read like Kafka's perf tools (and the orleansstream CLI's): "N records sent, X records/sec (Y MB/sec)".
return args switch
{
    ["produce", var bootstrap, var topic, var records, var size, var acks, .. var properties] =>
        await ProduceAsync(bootstrap, topic, int.Parse(records, CultureInfo.InvariantCulture), int.Parse(size, CultureInfo.InvariantCulture), acks, properties),
    ["consume", var bootstrap, var topic, var records, .. var properties] =>
        Consume(bootstrap, topic, int.Parse(records, CultureInfo.InvariantCulture), properties),
    ["consume-group", var bootstrap, var topic, var group, var stopFile, .. var properties] =>
        ConsumeGroup(bootstrap, topic, group, stopFile, properties),
    ["idle", var host, var port, var connections, var pid] =>
        await IdleAsync(host, int.Parse(port, CultureInfo.InvariantCulture), int.Parse(connections, CultureInfo.InvariantCulture), int.Parse(pid, CultureInfo.InvariantCulture)),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: produce BOOTSTRAP TOPIC RECORDS SIZE ACKS | consume BOOTSTRAP TOPIC RECORDS | consume-group BOOTSTRAP TOPIC GROUP STOP_FILE | idle HOST PORT CONNECTIONS SILO_PID");
    return 2;
}

static void Apply(ClientConfig config, string[] properties)
{
    foreach (var p in properties)
    {
        var at = p.IndexOf('=', StringComparison.Ordinal);
        config.Set(p[..at], p[(at + 1)..]);
    }
}

static async Task<int> ProduceAsync(string bootstrap, string topic, int records, int size, string acks, string[] properties)
{
    var config = new ProducerConfig
    {
        BootstrapServers = bootstrap,
        Acks = acks switch { "0" => Acks.None, "1" => Acks.Leader, _ => Acks.All },
        EnableIdempotence = false,
        LingerMs = 5,
        BatchSize = 1_000_000,
        QueueBufferingMaxMessages = 1_000_000,
        QueueBufferingMaxKbytes = 1_048_576,
        MessageTimeoutMs = 120_000,
    };
    var throughput = 0;
    foreach (var p in properties)
        if (p.StartsWith("throughput=", StringComparison.Ordinal)) throughput = int.Parse(p["throughput=".Length..], CultureInfo.InvariantCulture);
    Apply(config, Array.FindAll(properties, p => !p.StartsWith("throughput=", StringComparison.Ordinal)));
    var value = new byte[size];
    Random.Shared.NextBytes(value);
    long failed = 0;
    Action<DeliveryReport<Null, byte[]>> report = r => { if (r.Error.IsError) Interlocked.Increment(ref failed); };
    using var producer = new ProducerBuilder<Null, byte[]>(config).Build();
    var message = new Message<Null, byte[]> { Value = value };
    var watch = Stopwatch.StartNew();
    var throttler = new ThroughputThrottler(throughput);
    for (var i = 0; i < records; i++)
    {
        if (throttler.Enabled) await throttler.ThrottleAsync(i, CancellationToken.None);
        while (true)
        {
            try
            {
                producer.Produce(topic, message, report);
                break;
            }
            catch (ProduceException<Null, byte[]> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
            {
                producer.Poll(TimeSpan.FromMilliseconds(10));
            }
        }
    }
    producer.Flush(TimeSpan.FromMinutes(5));
    var seconds = watch.Elapsed.TotalSeconds;
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{records - failed} records sent, {records / seconds:F1} records/sec ({records * (double)size / seconds / (1 << 20):F2} MB/sec), {failed} failed."));
    return failed == 0 ? 0 : 1;
}

static int Consume(string bootstrap, string topic, int records, string[] properties)
{
    var config = new ConsumerConfig
    {
        BootstrapServers = bootstrap,
        GroupId = "kafka-perf-" + Guid.NewGuid().ToString("N"),
        EnableAutoCommit = false,
    };
    Apply(config, properties);
    var stats = new FetchStats();
    var builder = new ConsumerBuilder<Ignore, byte[]>(config);
    if (config.StatisticsIntervalMs is > 0) builder.SetStatisticsHandler((_, json) => stats.Add(json));
    using var consumer = builder.Build();
    using var admin = new DependentAdminClientBuilder(consumer.Handle).Build();
    var partitions = admin.GetMetadata(topic, TimeSpan.FromSeconds(30)).Topics[0].Partitions;
    var assignment = new List<TopicPartitionOffset>();
    foreach (var p in partitions) assignment.Add(new TopicPartitionOffset(topic, p.PartitionId, Offset.Beginning));
    consumer.Assign(assignment);
    long read = 0, bytes = 0;
    Stopwatch? watch = null;
    var steadyFrom = 0.0;
    var cpuAtFirst = TimeSpan.Zero;
    Dictionary<int, (string Name, double Cpu, double Waiting)>? threadsAtFirst = null;
    var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(5);
    while (read < records && DateTime.UtcNow < deadline)
    {
        var r = consumer.Consume(TimeSpan.FromSeconds(1));
        if (r is null || r.IsPartitionEOF) continue;
        // The clock starts at the first record: connecting and the first metadata round are not throughput.
        if (watch is null)
        {
            cpuAtFirst = Process.GetCurrentProcess().TotalProcessorTime;
            threadsAtFirst = ThreadCpu.Read();
            watch = Stopwatch.StartNew();
        }
        read++;
        bytes += r.Message.Value.Length;
        if (read == records / 10) steadyFrom = watch.Elapsed.TotalSeconds;
    }
    var seconds = watch?.Elapsed.TotalSeconds ?? 1;
    // The process's CPU time while it consumed (librdkafka's threads and the .NET loop together): what bounds a client on few cores.
    var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuAtFirst).TotalSeconds;
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{read} records received, {read / seconds:F1} records/sec ({bytes / seconds / (1 << 20):F2} MB/sec), {cpu:F2} CPU-s ({cpu / Math.Max(read, 1) * 1e6:F2} CPU-s per million records{ThreadCpu.Busiest(threadsAtFirst, seconds)}){stats}; after the first tenth (JIT and first fetches): {(read - records / 10) / Math.Max(seconds - steadyFrom, 1e-3):F1} records/sec."));
    return read == records ? 0 : 1;
}

// One member of a consumer group (subscribe with group.id): reads the partitions the group assigns it from the beginning
// until each is at its end (partition EOF), prints what it read with the wall-clock microseconds of its first and last
// record, so a script adds the members up over the group's whole wall time, first record to last, and its CPU time.
// It stays in the group, polling, until STOP_FILE exists: a member that left early would make the group rebalance and
// hand its partitions to the others. The members must join within the broker's group.initial.rebalance.delay.ms
// (3 s) of each other, so the first generation has them all; a later rebalance is counted in "assignments".
static int ConsumeGroup(string bootstrap, string topic, string group, string stopFile, string[] properties)
{
    var config = new ConsumerConfig
    {
        BootstrapServers = bootstrap,
        GroupId = group,
        EnableAutoCommit = false,
        AutoOffsetReset = AutoOffsetReset.Earliest,
        EnablePartitionEof = true,
    };
    Apply(config, properties);
    var assigned = new HashSet<int>();
    var atEnd = new HashSet<int>();
    var assignments = 0;
    using var consumer = new ConsumerBuilder<Ignore, byte[]>(config)
        .SetPartitionsAssignedHandler((_, partitions) =>
        {
            assignments++;
            foreach (var p in partitions) assigned.Add(p.Partition.Value);
        })
        .SetPartitionsRevokedHandler((_, partitions) =>
        {
            foreach (var p in partitions)
            {
                assigned.Remove(p.Partition.Value);
                atEnd.Remove(p.Partition.Value);
            }
        })
        .Build();
    consumer.Subscribe(topic);
    long read = 0, bytes = 0, firstUs = 0, lastUs = 0;
    var cpuAtFirst = TimeSpan.Zero;
    var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(5);
    while ((assigned.Count == 0 || atEnd.Count < assigned.Count) && DateTime.UtcNow < deadline)
    {
        var r = consumer.Consume(TimeSpan.FromSeconds(1));
        if (r is null) continue;
        if (r.IsPartitionEOF)
        {
            atEnd.Add(r.Partition.Value);
            continue;
        }
        atEnd.Remove(r.Partition.Value);
        lastUs = DateTime.UtcNow.Ticks / 10;
        if (read == 0)
        {
            firstUs = lastUs;
            cpuAtFirst = Process.GetCurrentProcess().TotalProcessorTime;
        }
        read++;
        bytes += r.Message.Value.Length;
    }
    var process = Process.GetCurrentProcess().TotalProcessorTime;
    var seconds = Math.Max(lastUs - firstUs, 1) / 1e6;
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"member: {read} records received, {read / seconds:F1} records/sec ({bytes / seconds / (1 << 20):F2} MB/sec) from partitions {string.Join(' ', assigned.Order())}; first_us={firstUs} last_us={lastUs} cpu_s={(process - cpuAtFirst).TotalSeconds:F2} process_cpu_s={process.TotalSeconds:F2} assignments={assignments}"));
    Console.Out.Flush();
    while (!File.Exists(stopFile) && DateTime.UtcNow < deadline) consumer.Consume(TimeSpan.FromMilliseconds(100));
    consumer.Close();
    return atEnd.Count == assigned.Count && assigned.Count > 0 ? 0 : 1;
}

// Opens CONNECTIONS sockets, each answered one ApiVersions, then left idle; the silo's resident memory before and after.
static async Task<int> IdleAsync(string host, int port, int connections, int pid)
{
    var before = ResidentBytes(pid);
    var sockets = new List<TcpClient>(connections);
    try
    {
        for (var i = 0; i < connections; i++)
        {
            var tcp = new TcpClient();
            await tcp.ConnectAsync(host, port);
            sockets.Add(tcp);
            await ApiVersionsAsync(tcp.GetStream(), i);
        }
        var (after, steady, waited) = await SteadyResidentBytesAsync(pid, TimeSpan.FromSeconds(60));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{connections} idle connections: silo resident {before / 1048576.0:F1} MiB before, {after / 1048576.0:F1} MiB after, {(after - before) / 1048576.0:F1} MiB more, {(after - before) / (double)connections / 1024:F1} KiB per connection ({(steady ? "steady" : "still moving")} after {waited.TotalSeconds:F1} s)."));
        return steady ? 0 : 1;
    }
    finally
    {
        foreach (var s in sockets) s.Dispose();
    }
}

static async Task ApiVersionsAsync(NetworkStream stream, int correlation)
{
    using var w = new KafkaWriter();
    var frame = w.BeginFrame();
    new RequestHeader(ApiKey.ApiVersions, 0, correlation, "kafka-perf-idle").Write(w);
    w.EndFrame(frame);
    await stream.WriteAsync(w.WrittenMemory);
    var prefix = new byte[4];
    await stream.ReadExactlyAsync(prefix);
    await stream.ReadExactlyAsync(new byte[BinaryPrimitives.ReadInt32BigEndian(prefix)]);
}

// The silo's resident size once its GC and pools have settled on the idle set: eight readings a quarter second apart
// (2 s) within 1 % of each other, or the last reading at the deadline.
static async Task<(long Bytes, bool Steady, TimeSpan Waited)> SteadyResidentBytesAsync(int pid, TimeSpan deadline)
{
    const int Readings = 8;
    var window = new Queue<long>(Readings);
    var watch = Stopwatch.StartNew();
    using var tick = new PeriodicTimer(TimeSpan.FromMilliseconds(250));
    while (true)
    {
        var rss = ResidentBytes(pid);
        window.Enqueue(rss);
        if (window.Count > Readings) window.Dequeue();
        if (window.Count == Readings && window.Max() - window.Min() <= window.Max() / 100) return (rss, true, watch.Elapsed);
        if (watch.Elapsed >= deadline) return (rss, false, watch.Elapsed);
        await tick.WaitForNextTickAsync();
    }
}

static long ResidentBytes(int pid)
{
    foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) * 1024;
    throw new InvalidOperationException($"No VmRSS for process {pid}.");
}

/// <summary>librdkafka's statistics (<c>statistics.interval.ms</c>): fetches, bytes per fetch response, round trip, local queue.</summary>
internal sealed class FetchStats
{
    private long _fetches, _rxBytes, _responses, _maxQueued, _rttAvgUs, _rttP99Us;

    public void Add(string json)
    {
        using var doc = JsonDocument.Parse(json);
        long fetches = 0, rxBytes = 0, responses = 0, queued = 0;
        foreach (var broker in doc.RootElement.GetProperty("brokers").EnumerateObject())
        {
            var b = broker.Value;
            if (b.GetProperty("nodeid").GetInt32() < 0) continue;
            fetches += b.GetProperty("req").GetProperty("Fetch").GetInt64();
            rxBytes += b.GetProperty("rxbytes").GetInt64();
            responses += b.GetProperty("rx").GetInt64();
            var rtt = b.GetProperty("rtt");
            if (rtt.GetProperty("cnt").GetInt64() > 0)
            {
                _rttAvgUs = rtt.GetProperty("avg").GetInt64();
                _rttP99Us = rtt.GetProperty("p99").GetInt64();
            }
        }
        foreach (var topic in doc.RootElement.GetProperty("topics").EnumerateObject())
            foreach (var partition in topic.Value.GetProperty("partitions").EnumerateObject())
                // A consumer's partitions forward to its one queue, so each reports that queue's length: the max, not the sum.
                if (partition.Name != "-1") queued = Math.Max(queued, partition.Value.GetProperty("fetchq_cnt").GetInt64());
        (_fetches, _rxBytes, _responses) = (fetches, rxBytes, responses);
        _maxQueued = Math.Max(_maxQueued, queued);
    }

    public override string ToString() => _fetches == 0 ? "" : string.Create(CultureInfo.InvariantCulture,
        $"; librdkafka: {_fetches} fetches, {_rxBytes / (double)Math.Max(_responses, 1) / 1024:F0} KiB per response, rtt avg {_rttAvgUs / 1000.0:F1} ms p99 {_rttP99Us / 1000.0:F1} ms (last window), local queue up to {_maxQueued} records");
}

/// <summary>
/// Per thread from /proc (Linux): CPU time and time spent runnable but waiting for a CPU (schedstat), so a run shows
/// whether the consumer's threads were busy, starved by other processes, or idle waiting for records.
/// </summary>
internal static class ThreadCpu
{
    public static Dictionary<int, (string Name, double Cpu, double Waiting)>? Read()
    {
        if (!Directory.Exists("/proc/self/task")) return null;
        var threads = new Dictionary<int, (string, double, double)>();
        foreach (var dir in Directory.EnumerateDirectories("/proc/self/task"))
        {
            string name, schedstat;
            try
            {
                name = File.ReadAllText(Path.Combine(dir, "comm")).TrimEnd();
                schedstat = File.ReadAllText(Path.Combine(dir, "schedstat"));
            }
            catch (IOException) { continue; }
            // schedstat: nanoseconds on a CPU, nanoseconds runnable waiting for one, time slices.
            var fields = schedstat.Split(' ');
            threads[int.Parse(Path.GetFileName(dir), CultureInfo.InvariantCulture)] =
                (name, long.Parse(fields[0], CultureInfo.InvariantCulture) / 1e9, long.Parse(fields[1], CultureInfo.InvariantCulture) / 1e9);
        }
        return threads;
    }

    /// <summary>The three busiest threads since <paramref name="before"/>: CPU and run-queue wait, each as a share of the wall time.</summary>
    public static string Busiest(Dictionary<int, (string Name, double Cpu, double Waiting)>? before, double wallSeconds)
    {
        var after = Read();
        if (before is null || after is null) return "";
        var deltas = new List<(string Name, double Cpu, double Waiting)>();
        foreach (var (id, t) in after)
        {
            var b = before.GetValueOrDefault(id);
            deltas.Add((t.Name, t.Cpu - b.Cpu, t.Waiting - b.Waiting));
        }
        deltas.Sort((x, y) => y.Cpu.CompareTo(x.Cpu));
        var text = new System.Text.StringBuilder("; busiest threads:");
        for (var i = 0; i < Math.Min(3, deltas.Count); i++)
            text.Append(CultureInfo.InvariantCulture,
                $" {deltas[i].Name} {deltas[i].Cpu:F2} s CPU ({deltas[i].Cpu / wallSeconds:P0}) + {deltas[i].Waiting:F2} s waiting for a CPU ({deltas[i].Waiting / wallSeconds:P0})");
        return text.ToString();
    }
}
