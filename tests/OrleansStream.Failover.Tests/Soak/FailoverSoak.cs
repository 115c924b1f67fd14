using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using OrleansStream.Client;

namespace OrleansStream.Failover.Tests.Soak;

/// <summary>What one soak did and found.</summary>
public sealed record SoakReport(
    int Kills,
    long Acknowledged,
    long Lost,
    long Duplicates,
    long ConsoleLines,
    IReadOnlyDictionary<string, TimeSpan> LongestStall,
    IReadOnlyList<string> Violations,
    IReadOnlyList<string> Stalls,
    int Rebalances)
{
    public string Summary()
    {
        var lines = new List<string>
        {
            $"kills: {Kills}, acknowledged records: {Acknowledged} (console lines {ConsoleLines}), lost: {Lost}, duplicates: {Duplicates}, group rebalances: {Rebalances}",
        };
        foreach (var (path, stall) in LongestStall) lines.Add($"  longest stall, {path}: {stall.TotalSeconds:F1} s");
        foreach (var v in Violations) lines.Add($"  VIOLATION: {v}");
        foreach (var v in Stalls) lines.Add($"  over the 10 s bar: {v}");
        return string.Join(Environment.NewLine, lines);
    }
}

/// <summary>
/// Three broker processes on Redis clustering (Garnet), one topic with RF 3, min.insync.replicas=2 and log-append
/// timestamps. SDK producers (ProduceAsync with idempotence; Produce with a delivery handler and Flush), the console
/// producer (<c>orleansstream produce --acks all</c> fed lines), a consumer group of two that commits every second, an
/// admin loop (describe, group offsets, metadata) and the CLI's connect (<c>topics describe</c>) run while a nemesis
/// kill -9s a silo, waits for the failover, restarts it and waits for a full ISR, again and again: in turn the silo of
/// the controller, the silo of the group coordinator and a random one. Every acknowledged and every consumed record
/// is recorded, and per path the longest stall.
/// </summary>
public sealed class FailoverSoak
{
    public const string Group = "soak-group";

    /// <summary>The longest a client path may wait after a kill -9 (Kafka's clients: about the broker session timeout).</summary>
    public static readonly TimeSpan StallBar = TimeSpan.FromSeconds(10);
    private const int Partitions = 3;
    private static readonly TimeSpan Pace = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan RetryBackoff = TimeSpan.FromMilliseconds(100);
    /// <summary>How long one step of the nemesis may wait for the cluster (failover, restart, catch-up) on a busy machine.</summary>
    private static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(120);

    private readonly SiloProcesses _cluster;
    private readonly Action<string> _log;
    private readonly string _topic = PartitionTestKit.UniqueTopic("soak");
    private readonly StallMeter _stalls = new();
    private readonly ConcurrentQueue<(string Value, int Partition, long Offset)> _acked = new();
    private readonly ConcurrentQueue<string> _failedSends = new();
    private readonly ConcurrentQueue<(string Value, int Partition, long Offset)> _consumed = new();
    private readonly ConcurrentQueue<string> _violations = new();
    private readonly ConcurrentDictionary<int, long> _committed = new();
    private long _consoleLines;

    private FailoverSoak(SiloProcesses cluster, Action<string> log)
    {
        _cluster = cluster;
        _log = log;
    }

    public static async Task<SoakReport> RunAsync(int kills, int seed, Action<string> log)
    {
        await using var cluster = await SiloProcesses.StartAsync(3, static (_, env) => { env["Logging__Console__TimestampFormat"] = "HH:mm:ss.fff "; env["Logging__LogLevel__OrleansStream"] = "Information"; });
        return await new FailoverSoak(cluster, log).RunAsync(kills, seed);
    }

    private IClusterClient Client => _cluster.Client;

    private string[] GatewayArguments => ["--gateway", _cluster.Gateway(0), "--gateway", _cluster.Gateway(1), "--gateway", _cluster.Gateway(2)];

    private async Task<SoakReport> RunAsync(int kills, int seed)
    {
        var controller = Client.GetGrain<IClusterControllerGrain>(GrainKeys.Controller);
        var created = await controller.CreateTopics([new NewTopic(_topic, Partitions, 3, new Dictionary<string, string>
        {
            ["min.insync.replicas"] = "2",
            ["message.timestamp.type"] = "LogAppendTime",
        })]);
        Assert.Equal(ErrorCode.None, Assert.Single(created).Error);

        using var stopLoad = new CancellationTokenSource();
        using var stopConsumers = new CancellationTokenSource();
        var joined = new CountdownEvent(2);
        var consumers = new[] { ConsumeAsync(0, joined, stopConsumers.Token), ConsumeAsync(1, joined, stopConsumers.Token) };
        await Eventually.WaitUntilAsync(() => joined.CurrentCount == 0, "both consumers have partitions", StepTimeout);
        var firstGeneration = await GroupGenerationAsync();

        var load = new List<Task>
        {
            ProduceAsyncLoop(stopLoad.Token),
            ProduceWithHandlerLoop(stopLoad.Token),
            ConsoleProducerLoop(stopLoad.Token),
            AdminLoop(stopLoad.Token),
            CliConnectLoop(stopLoad.Token),
        };
        await Eventually.WaitUntilAsync(() => _acked.Count >= 200, "the producers write", StepTimeout);

        Exception? nemesisFailure = null;
        try
        {
            await NemesisAsync(kills, seed);
        }
        catch (Exception e)
        {
            nemesisFailure = e;
        }
        _log($"load stops at {DateTimeOffset.UtcNow:HH:mm:ss.fff}");
        stopLoad.Cancel();
        await Task.WhenAll(load);
        if (nemesisFailure is not null) throw new InvalidOperationException("the nemesis failed", nemesisFailure);

        var ends = await LogEndsAsync();
        await Eventually.WaitUntilAsync(() => ConsumedUpTo(ends), "the group consumes every partition to its end", StepTimeout);
        var rebalances = await GroupGenerationAsync() - firstGeneration;
        stopConsumers.Cancel();
        await Task.WhenAll(consumers);
        return await CheckAsync(kills, ends, rebalances);
    }

    /// <summary>The group's generation: a coordinator that moves takes the members over, so only a rebalance changes it.</summary>
    private async Task<int> GroupGenerationAsync() =>
        (await UntilDone("admin: describe the group", () => Client.GetGrain<IConsumerGroupGrain>(Group).Describe())).GenerationId;

    // ---- load ----

    private async Task ProduceAsyncLoop(CancellationToken stop)
    {
        await using var producer = new ProducerBuilder<string, string>(Client,
            new ProducerConfig { Acks = Acks.All, EnableIdempotence = true, LingerMs = 5, MessageTimeoutMs = 120_000 }).Build();
        var inflight = new List<Task>();
        using var pace = new PeriodicTimer(Pace);
        for (var seq = 0; !stop.IsCancellationRequested && await pace.WaitForNextTickAsync(CancellationToken.None); seq++)
        {
            var value = $"a-{seq}";
            inflight.Add(TrackAsync(producer.ProduceAsync(_topic, new Message<string, string> { Key = $"k{seq % 13}", Value = value }, CancellationToken.None),
                value, Stopwatch.GetTimestamp()));
            inflight.RemoveAll(static t => t.IsCompleted);
        }
        await Task.WhenAll(inflight);
    }

    private async Task TrackAsync(Task<DeliveryResult<string, string>> delivery, string value, long started)
    {
        try
        {
            var r = await delivery;
            _stalls.RecordSince("produce: ProduceAsync, idempotent", started);
            _acked.Enqueue((value, r.Partition, r.Offset));
        }
        catch (ProduceException<string, string> e)
        {
            _failedSends.Enqueue($"{value}: {e.Error}");
        }
    }

    private async Task ProduceWithHandlerLoop(CancellationToken stop)
    {
        await using var producer = new ProducerBuilder<string, string>(Client,
            new ProducerConfig { Acks = Acks.All, LingerMs = 5, MessageTimeoutMs = 120_000 }).Build();
        using var pace = new PeriodicTimer(Pace);
        for (var seq = 0; !stop.IsCancellationRequested && await pace.WaitForNextTickAsync(CancellationToken.None); seq++)
        {
            var value = $"h-{seq}";
            var started = Stopwatch.GetTimestamp();
            producer.Produce(_topic, new Message<string, string> { Key = $"k{seq % 11}", Value = value }, report =>
            {
                if (report.Error.IsError)
                {
                    _failedSends.Enqueue($"{value}: {report.Error}");
                    return;
                }
                _stalls.RecordSince("produce: Produce with a delivery handler", started);
                _acked.Enqueue((value, report.Partition, report.Offset));
            });
            if (seq % 50 == 49)
            {
                var flushStarted = Stopwatch.GetTimestamp();
                await Task.Run(() => producer.Flush(CancellationToken.None));
                _stalls.RecordSince("produce: Flush", flushStarted);
            }
        }
        await producer.FlushAsync(CancellationToken.None);
    }

    /// <summary>Where the console producer's Orleans client log goes (<c>OS_SOAK_CONSOLE_LOG</c>) once it exited.</summary>
    private static string? ConsoleLog => Environment.GetEnvironmentVariable("OS_SOAK_CONSOLE_LOG") is { Length: > 0 } file ? file : null;

    /// <summary>
    /// The CLI processes' log (stderr, kept by <c>OS_PROCESS_LOG_DIR</c>): what a process waited on. The SDK's connect,
    /// gateway-list and failure-watch decisions, Orleans' gateway choices and connections, the host's start and stop,
    /// and Orleans' warnings; not Orleans' option dump or per-message traces.
    /// </summary>
    private static readonly Dictionary<string, string?> CliLog = new()
    {
        ["DOTNET_NOLOGO"] = "1",
        ["ORLEANSSTREAM_LOG_LEVEL"] = "Warning,OrleansStream=Debug,Orleans.Messaging.GatewayManager=Information,"
            + "Orleans.Runtime.Messaging.ConnectionManager=Information,Orleans.OutsideRuntimeClient=Information,"
            + "Microsoft.Extensions.Hosting.Internal.Host=Debug",
    };

    /// <summary>Each line carries its send time; the stall is read back from the log-append time of its record.</summary>
    private async Task ConsoleProducerLoop(CancellationToken stop)
    {
        await using var cli = ExternalProcess.StartDotnet("console-producer", Repository.BuiltDll("OrleansStream.Cli", "orleansstream"),
            ["produce", "--topic", _topic, "--acks", "all", .. GatewayArguments],
            CliLog, workingDirectory: _cluster.Root, keepInput: true);
        using var pace = new PeriodicTimer(Pace);
        var seq = 0;
        for (; !stop.IsCancellationRequested && await pace.WaitForNextTickAsync(CancellationToken.None); seq++)
        {
            await cli.Input.WriteLineAsync($"c-{seq}-{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}");
            await cli.Input.FlushAsync(CancellationToken.None);
        }
        cli.Input.Close();
        _log($"the console producer's input ends at {DateTimeOffset.UtcNow:HH:mm:ss.fff}");
        var result = await cli.WaitForExitAsync(TimeSpan.FromMinutes(3));
        _log($"the console producer exits at {DateTimeOffset.UtcNow:HH:mm:ss.fff}");
        if (ConsoleLog is { } file) await File.WriteAllTextAsync(file, result.Stderr);
        if (result.ExitCode != 0)
            _violations.Enqueue($"the console producer failed: {result}");
        else
            Interlocked.Exchange(ref _consoleLines, seq);
    }

    private async Task AdminLoop(CancellationToken stop)
    {
        using var admin = new AdminClientBuilder(Client).Build();
        using var pace = new PeriodicTimer(TimeSpan.FromMilliseconds(250));
        while (!stop.IsCancellationRequested && await pace.WaitForNextTickAsync(CancellationToken.None))
        {
            await UntilDone("admin: DescribeTopics", () => admin.DescribeTopicsAsync([_topic]));
            var offsets = await UntilDone("admin: ListConsumerGroupOffsets", () => admin.ListConsumerGroupOffsetsAsync(Group));
            foreach (var p in offsets.Partitions)
            {
                if (p.CommittedOffset < 0) continue;
                var before = _committed.GetOrAdd(p.TopicPartition.Partition, -1);
                if (p.CommittedOffset < before)
                    _violations.Enqueue($"partition {p.TopicPartition.Partition}: committed offset went back from {before} to {p.CommittedOffset}");
                _committed.AddOrUpdate(p.TopicPartition.Partition, p.CommittedOffset, (_, old) => Math.Max(old, p.CommittedOffset));
            }
            await UntilDone("admin: GetMetadata", () => Task.Run(() => admin.GetMetadata(TimeSpan.FromSeconds(30))));
        }
    }

    /// <summary>The CLI as a user runs it: connect, one command, exit.</summary>
    private async Task CliConnectLoop(CancellationToken stop)
    {
        var cli = Repository.BuiltDll("OrleansStream.Cli", "orleansstream");
        using var pace = new PeriodicTimer(TimeSpan.FromSeconds(3));
        while (!stop.IsCancellationRequested && await pace.WaitForNextTickAsync(CancellationToken.None))
        {
            await UntilDone("cli: connect and topics describe", async () =>
            {
                var started = DateTimeOffset.UtcNow;
                // One log file for every run (they run one at a time): each begins at its "Hosting starting".
                await using var process = ExternalProcess.StartDotnet("cli-connect", cli, ["topics", "describe", "--topic", _topic, .. GatewayArguments],
                    CliLog, Repository.Root);
                var r = await process.WaitForExitAsync(TimeSpan.FromMinutes(2));
                var took = DateTimeOffset.UtcNow - started;
                if (r.ExitCode != 0 || took > StallMeter.LongStall / 2)
                    _log($"cli: a process started at {started:HH:mm:ss.fff} took {took.TotalSeconds:F1} s, exit {r.ExitCode}"
                        + (r.ExitCode != 0 || took > StallMeter.LongStall ? $"; its log:{Environment.NewLine}{r.Stderr.TrimEnd()}" : ""));
                if (r.ExitCode != 0) throw new InvalidOperationException(r.ToString());
                return r;
            });
        }
    }

    /// <summary>Tries again until the operation succeeds; its stall runs from the first attempt.</summary>
    private async Task<T> UntilDone<T>(string path, Func<Task<T>> operation)
    {
        var started = Stopwatch.GetTimestamp();
        while (true)
        {
            try
            {
                var result = await operation();
                _stalls.RecordSince(path, started);
                return result;
            }
            catch (Exception e) when (Stopwatch.GetElapsedTime(started) < StepTimeout)
            {
                Debug.WriteLine($"{path}: {e.Message}");
            }
            await Task.Delay(RetryBackoff);
        }
    }

    private Task ConsumeAsync(int id, CountdownEvent joined, CancellationToken stop) => Task.Factory.StartNew(() =>
    {
        using var consumer = new ConsumerBuilder<string, string>(Client, new ConsumerConfig
        {
            GroupId = Group,
            ClientId = $"soak-consumer-{id}",
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
        }).Build();
        consumer.Subscribe(_topic);
        var signalled = false;
        var lastCommit = Stopwatch.GetTimestamp();
        long commitFailingSince = 0;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { Message: { } m } r)
                {
                    _consumed.Enqueue((m.Value, r.Partition, r.Offset));
                    var lag = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - m.Timestamp.UnixTimestampMs;
                    _stalls.Record("consume: group fetch and prefetch", TimeSpan.FromMilliseconds(Math.Max(0, lag)));
                }
            }
            catch (ConsumeException e)
            {
                Debug.WriteLine($"consumer {id}: {e.Message}");
            }
            if (!signalled && consumer.Assignment.Count > 0)
            {
                signalled = true;
                joined.Signal();
            }
            if (Stopwatch.GetElapsedTime(lastCommit) < TimeSpan.FromSeconds(1)) continue;
            lastCommit = Stopwatch.GetTimestamp();
            var attempt = commitFailingSince != 0 ? commitFailingSince : lastCommit;
            try
            {
                consumer.Commit();
                _stalls.RecordSince("group: Commit", attempt);
                commitFailingSince = 0;
            }
            catch (Exception e) when (e is KafkaException or OrleansException or TimeoutException)
            {
                commitFailingSince = attempt;
            }
        }
        consumer.Close();
    }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    // ---- nemesis ----

    private async Task NemesisAsync(int kills, int seed)
    {
        var random = new Random(seed);
        for (var k = 0; k < kills; k++)
        {
            await WaitForFullIsrAsync();
            var role = (k % 3) switch { 0 => "controller", 1 => "group coordinator", _ => "random" };
            var victim = role switch
            {
                "controller" => await SiloOfAsync(Client.GetGrain<IClusterControllerGrain>(GrainKeys.Controller)),
                "group coordinator" => await SiloOfAsync(Client.GetGrain<IConsumerGroupGrain>(Group)),
                _ => -1,
            };
            if (victim < 0) victim = random.Next(3);
            var broker = SiloProcesses.BrokerId(victim);
            var killedAt = DateTimeOffset.UtcNow;
            _log($"kill {k + 1}/{kills}: kill -9 of silo {victim} ({role}) at {killedAt:HH:mm:ss.fff}");
            _log($"  before: controller version {(await MetadataAsync())?.Version}, the client's cache {MetadataCache.For(Client).Version}");
            var departures = SiloFailureWatch.For(Client).Departures;
            var killed = Stopwatch.GetTimestamp();
            _cluster.Kill(victim);
            _ = Eventually.WaitUntilAsync(() => SiloFailureWatch.For(Client).Departures > departures, "the client sees the silo leave", StepTimeout)
                .ContinueWith(t => _log($"  the client saw silo {victim} leave after {Stopwatch.GetElapsedTime(killed).TotalSeconds:F1} s ({t.Status})"), TaskScheduler.Default);
            await Eventually.WaitUntilAsync(async () => await MetadataAsync() is { } m
                    && m.Brokers.Any(b => b.BrokerId == broker && !b.IsAlive)
                    && m.Topics[0].Partitions.All(p => p.LeaderBroker != broker),
                $"the controller moves every leadership off {broker}", StepTimeout);
            _log($"  leaderships moved at {DateTimeOffset.UtcNow:HH:mm:ss.fff}: controller version {(await MetadataAsync())?.Version}, the client's cache {MetadataCache.For(Client).Version}");
            if (Stopwatch.GetElapsedTime(killed) > StallBar) LogSlowLeadershipMove(victim, killedAt);
            var restarting = DateTimeOffset.UtcNow;
            await _cluster.StartSiloAsync(victim);
            _log($"  silo {victim} ready again at {DateTimeOffset.UtcNow:HH:mm:ss.fff}");
            if (DateTimeOffset.UtcNow - restarting > StallBar) LogSlowRestart(victim, killedAt);
        }
        await WaitForFullIsrAsync();
    }

    /// <summary>A leadership move slower than the stall bar holds every client of the dead leaders: the live silos' logs since the kill say why.</summary>
    private void LogSlowLeadershipMove(int victim, DateTimeOffset killedAt)
    {
        _log($"  the leaderships of silo {victim} took over {StallBar.TotalSeconds:F0} s to move; the live silos' logs since the kill:");
        for (var i = 0; i < 3; i++)
            if (i != victim) _log($"  silo {i}:{Environment.NewLine}{OutputSince(_cluster.Output(i), killedAt)}");
    }

    /// <summary>A restart slower than the stall bar holds the clients that need the silo: every silo's log since the kill says why.</summary>
    private void LogSlowRestart(int victim, DateTimeOffset killedAt)
    {
        _log($"  silo {victim} took over {StallBar.TotalSeconds:F0} s to be ready; the silos' logs since the kill:");
        for (var i = 0; i < 3; i++)
            _log($"  silo {i}:{Environment.NewLine}{(i == victim ? _cluster.Output(i) : OutputSince(_cluster.Output(i), killedAt))}");
    }

    /// <summary>The lines of a silo's log from the first one stamped at or after <paramref name="since"/> (the silos stamp HH:mm:ss.fff).</summary>
    private static string OutputSince(string output, DateTimeOffset since)
    {
        var lines = output.Split('\n');
        var from = since.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture);
        for (var i = 0; i < lines.Length; i++)
            if (lines[i].Length >= from.Length && char.IsAsciiDigit(lines[i][0]) && string.CompareOrdinal(lines[i], 0, from, 0, from.Length) >= 0)
                return string.Join('\n', lines[i..]);
        return "";
    }

    private Task WaitForFullIsrAsync() => Eventually.WaitUntilAsync(async () => await MetadataAsync() is { } m
            && m.Brokers.Count(b => b.IsAlive) == 3 && m.Topics[0].Partitions.All(p => p.Isr.Count == 3),
        "every broker is alive and every partition has a full ISR", StepTimeout);

    /// <summary>The topic's metadata straight from the controller, or null when it does not answer in time (its silo may be dead).</summary>
    private async Task<ClusterMetadata?> MetadataAsync()
    {
        try
        {
            return await Client.GetGrain<IClusterControllerGrain>(GrainKeys.Controller).GetMetadata(new MetadataRequest([_topic]))
                .WaitAsync(TimeSpan.FromSeconds(3));
        }
        catch (Exception e) when (e is TimeoutException or OrleansException)
        {
            return null;
        }
    }

    private async Task<int> SiloOfAsync(IAddressable grain)
    {
        try
        {
            var address = await Client.GetGrain<IManagementGrain>(0).GetActivationAddress(grain).AsTask().WaitAsync(TimeSpan.FromSeconds(3));
            return address is null ? -1 : _cluster.IndexOfSiloPort(address.Endpoint.Port);
        }
        catch (Exception e) when (e is TimeoutException or OrleansException)
        {
            return -1;
        }
    }

    // ---- checks ----

    private async Task<long[]> LogEndsAsync()
    {
        var ends = new long[Partitions];
        using var consumer = new ConsumerBuilder<Ignore, string>(Client, new ConsumerConfig()).Build();
        for (var p = 0; p < Partitions; p++)
        {
            var tp = new TopicPartition(_topic, p);
            ends[p] = (await UntilDone("admin: QueryWatermarkOffsets", () => Task.Run(() => consumer.QueryWatermarkOffsets(tp, TimeSpan.FromSeconds(30))))).High;
        }
        return ends;
    }

    private bool ConsumedUpTo(long[] ends)
    {
        var next = new long[Partitions];
        foreach (var (_, p, offset) in _consumed) next[p] = Math.Max(next[p], offset + 1);
        for (var p = 0; p < Partitions; p++)
            if (next[p] < ends[p]) return false;
        return true;
    }

    private async Task<SoakReport> CheckAsync(int kills, long[] ends, int rebalances)
    {
        var log = new List<(string Value, long Offset, long AppendedMs)>[Partitions];
        using (var reader = new ConsumerBuilder<Ignore, string>(Client, new ConsumerConfig()).Build())
        {
            for (var p = 0; p < Partitions; p++)
            {
                log[p] = [];
                reader.Assign(new TopicPartitionOffset(new TopicPartition(_topic, p), Offset.Beginning));
                var records = log[p];
                await Eventually.WaitUntilAsync(() =>
                {
                    while (reader.Consume(TimeSpan.FromMilliseconds(100)) is { Message: { } m } r)
                        records.Add((m.Value, r.Offset, m.Timestamp.UnixTimestampMs));
                    return records.Count > 0 && records[^1].Offset >= ends[p] - 1 || ends[p] == 0;
                }, $"partition {p} is read back to offset {ends[p]}", StepTimeout);
            }
        }

        // Acknowledged: at its offset, once (an idempotent producer's record never twice), in order per partition.
        var occurrences = new Dictionary<string, int>(StringComparer.Ordinal);
        var at = new Dictionary<(int, long), string>();
        for (var p = 0; p < Partitions; p++)
            foreach (var (value, offset, _) in log[p])
            {
                occurrences[value] = occurrences.GetValueOrDefault(value) + 1;
                at[(p, offset)] = value;
            }
        long lost = 0, duplicates = 0;
        foreach (var (value, p, offset) in _acked)
        {
            if (!at.TryGetValue((p, offset), out var stored) || stored != value)
            {
                lost++;
                _violations.Enqueue($"acknowledged {value} at {p}/{offset} is not there (found {stored ?? "nothing"})");
            }
        }
        foreach (var (value, count) in occurrences)
        {
            if (count <= 1) continue;
            duplicates += count - 1;
            if (value.StartsWith("a-", StringComparison.Ordinal))
                _violations.Enqueue($"{value} of the idempotent producer is written {count} times");
        }
        var consoleLines = Interlocked.Read(ref _consoleLines);
        var consoleSeen = new HashSet<string>(StringComparer.Ordinal);
        var named = 0;
        for (var p = 0; p < Partitions; p++)
        {
            var last = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var (value, _, appendedMs) in log[p])
            {
                var parts = value.Split('-');
                var seq = long.Parse(parts[1], CultureInfo.InvariantCulture);
                var previous = last.GetValueOrDefault(parts[0], -1);
                if (seq < previous && occurrences[value] == 1)
                    _violations.Enqueue($"partition {p}: {value} after {parts[0]}-{previous}");
                last[parts[0]] = Math.Max(previous, seq);
                if (parts[0] != "c" || !consoleSeen.Add(value)) continue;
                var sentMs = long.Parse(parts[2], CultureInfo.InvariantCulture);
                _stalls.Record("produce: console producer (send to append)", TimeSpan.FromMilliseconds(Math.Max(0, appendedMs - sentMs)),
                    DateTimeOffset.FromUnixTimeMilliseconds(appendedMs));
                if (appendedMs - sentMs > 10_000 && named++ < 50)
                    _log($"console line {value} (partition {p}) sent {DateTimeOffset.FromUnixTimeMilliseconds(sentMs):HH:mm:ss.fff}, appended {DateTimeOffset.FromUnixTimeMilliseconds(appendedMs):HH:mm:ss.fff}");
            }
        }
        if (consoleSeen.Count != consoleLines)
        {
            lost += Math.Max(0, consoleLines - consoleSeen.Count);
            _violations.Enqueue($"the console producer sent {consoleLines} lines; {consoleSeen.Count} are in the log");
        }

        // Consumed: the group saw every acknowledged record.
        var consumed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (value, _, _) in _consumed) consumed.Add(value);
        var unconsumed = _acked.Count(a => !consumed.Contains(a.Value));
        if (unconsumed > 0) _violations.Enqueue($"{unconsumed} acknowledged records were never consumed by the group");

        var longest = _stalls.Longest();
        var overBar = new List<string>();
        foreach (var (path, stall) in longest)
            if (stall > StallBar) overBar.Add($"{path} stalled {stall.TotalSeconds:F1} s");
        foreach (var failed in _failedSends.Take(5)) _log($"not acknowledged: {failed}");
        // A consumer lags behind every stall of the producers, so only its first few long lags are named.
        foreach (var stall in _stalls.LongStalls.Where(static s => !s.StartsWith("consume", StringComparison.Ordinal)).Take(30)) _log($"long stall: {stall}");
        foreach (var stall in _stalls.LongStalls.Where(static s => s.StartsWith("consume", StringComparison.Ordinal)).Take(5)) _log($"long stall: {stall}");
        if (Environment.GetEnvironmentVariable("OS_SOAK_SILO_LOGS") is { Length: > 0 })
            for (var i = 0; i < 3; i++) _log($"silo {i}:{Environment.NewLine}{_cluster.Output(i)}");
        return new SoakReport(kills, _acked.Count + consoleLines, lost, duplicates, consoleLines, longest, [.. _violations], overBar, rebalances);
    }
}
