using System.Globalization;
using OrleansStream.Client;
using static OrleansStream.TestKit.PartitionTestKit;

namespace OrleansStream.Failover.Tests;

/// <summary>
/// Exactly-once under chaos, with real processes: three broker processes (RF 3, min.insync.replicas=2) and copier
/// processes (<c>orleansstream transactions copy</c>: consume read_committed, produce, send the offsets, commit) copy
/// <c>in</c> to <c>out</c> while a silo is killed with SIGKILL and restarted, a copier is killed and restarted, and a
/// copier is stopped with SIGSTOP until the coordinator aborted its transaction at its timeout, then resumed as a
/// zombie that must be fenced. <c>out</c> must then hold every input value exactly once, and the run must not be
/// vacuous: a read_uncommitted reader saw aborted records, and the coordinators' stored counts show commits, aborts
/// and a fencing for every restart and every zombie.
/// </summary>
/// <remarks>
/// OS_EOS_CHAOS_ROUNDS sets how many disruptions (default 3, one of each kind) the run makes, OS_EOS_CHAOS_VALUES how
/// many values are seeded before they start (default 500; more come while the copiers keep up); a longer run:
/// <c>OS_EOS_CHAOS_ROUNDS=30 OS_EOS_CHAOS_VALUES=100000 dotnet test --project tests/OrleansStream.Failover.Tests --filter-method "*copy_every_input_record_exactly_once*"</c>.
/// </remarks>
[Trait("Category", "Slow")]
[Collection(ExactlyOnceChaosCollection.Name)]
public sealed class ExactlyOnceChaosTests(ITestOutputHelper output)
{
    private const int Partitions = 4;
    private const int Copiers = 3;
    private const int SeedBatch = 500;
    private const int Backlog = 2_000;
    private const int TransactionTimeoutMs = 4_000;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task Copiers_under_kills_and_zombies_copy_every_input_record_exactly_once()
    {
        var rounds = int.TryParse(Environment.GetEnvironmentVariable("OS_EOS_CHAOS_ROUNDS"), CultureInfo.InvariantCulture, out var r) ? r : 3;
        var values = int.TryParse(Environment.GetEnvironmentVariable("OS_EOS_CHAOS_VALUES"), CultureInfo.InvariantCulture, out var v) ? v : SeedBatch;
        var random = new Random(15);
        await using var cluster = await SiloProcesses.StartAsync(3, (_, env) =>
        {
            env["OrleansStream__Transactions__TransactionStateLogNumPartitions"] = "4";
            env["OrleansStream__Transactions__TransactionAbortTimedOutTransactionCleanupIntervalMs"] = "500";
            // The coordinator's decisions (loads, fencings, timeouts, marker retries), shown when a wait on it fails.
            env["Logging__LogLevel__OrleansStream.Server.Transactions"] = "Information";
            env["Logging__LogLevel__OrleansStream.Server.Groups"] = "Information";
            env["Logging__Console__FormatterOptions__SingleLine"] = "true";
            env["Logging__Console__FormatterOptions__TimestampFormat"] = "HH:mm:ss.fff ";
        });
        var (input, outputTopic, group) = (UniqueTopic("eos-in"), UniqueTopic("eos-out"), UniqueTopic("eos-copiers"));
        var controller = cluster.Client.GetGrain<IClusterControllerGrain>(GrainKeys.Controller);
        var topicConfig = new Dictionary<string, string> { ["min.insync.replicas"] = "2" };
        Assert.All(await controller.CreateTopics([new NewTopic(input, Partitions, 3, topicConfig), new NewTopic(outputTopic, Partitions, 3, topicConfig)]),
            t => Assert.Equal(ErrorCode.None, t.Error));

        using var stop = new CancellationTokenSource();
        var committedReader = new HistoryReader(cluster.Client, outputTopic, IsolationLevel.ReadCommitted);
        var uncommittedReader = new HistoryReader(cluster.Client, outputTopic, IsolationLevel.ReadUncommitted);
        var readers = new[] { committedReader.Start(stop.Token), uncommittedReader.Start(stop.Token) };
        var seeder = new Seeder(cluster.Client, input);
        while (seeder.Values.Count < values) await seeder.SeedAsync(Math.Min(values - seeder.Values.Count, 10 * SeedBatch));

        var copiers = new CopierProcesses(cluster, input, outputTopic, group);
        try
        {
            for (var c = 0; c < Copiers; c++) copiers.Start(c);
            for (var c = 0; c < Copiers; c++) await copiers.WaitUntilCopying(c);
            var fenced = 0;
            for (var round = 0; round < rounds; round++)
            {
                // Each disruption happens while records flow: the input keeps a backlog, and the output has moved on since the last one.
                var before = committedReader.Count;
                await seeder.KeepBacklogAsync(committedReader, Backlog, SeedBatch);
                await Eventually.WaitUntilAsync(async () => await copiers.RestartFenced() | committedReader.Count > before, "the copiers commit more output", Deadline,
                    () => $"{committedReader.Count} read_committed, {uncommittedReader.Count} read_uncommitted\n{copiers.Output()}");
                switch (round % 3)
                {
                    case 0:
                        var silo = random.Next(3);
                        output.WriteLine($"round {round}: kill -9 silo {silo}");
                        cluster.Kill(silo);
                        await seeder.KeepBacklogAsync(committedReader, Backlog, SeedBatch);
                        await cluster.StartSiloAsync(silo);
                        break;
                    case 1:
                        var killed = random.Next(Copiers);
                        output.WriteLine($"round {round}: kill -9 copier {killed}");
                        await copiers.Kill(killed);
                        copiers.Start(killed);
                        await copiers.WaitUntilCopying(killed);
                        break;
                    default:
                        var zombie = await copiers.MakeZombie(random.Next(Copiers), () => seeder.KeepBacklogAsync(committedReader, Backlog, SeedBatch));
                        output.WriteLine($"round {round}: SIGSTOP copier {zombie} past its transaction timeout");
                        fenced++;
                        copiers.Start(zombie);
                        await copiers.WaitUntilCopying(zombie);
                        break;
                }
            }
            await seeder.SeedAsync(SeedBatch);
            await Eventually.WaitUntilAsync(async () => await copiers.RestartFenced() | committedReader.DistinctValues >= seeder.Values.Count,
                $"a read_committed reader sees all {seeder.Values.Count} input values in the output", Deadline + TimeSpan.FromMilliseconds(values),
                () => $"{committedReader.DistinctValues} seen\n{copiers.Output()}");
            if (rounds >= 3) Assert.True(fenced > 0 && copiers.FencedExits >= fenced, "every zombie was fenced when it woke up");
        }
        catch (Exception) when (SaveLogs(cluster, copiers))
        {
            throw;
        }
        finally
        {
            await copiers.DisposeAsync();
        }

        ExactlyOnceHistory? history = null;
        try
        {
            // Every copier is gone: their open transactions are aborted at their timeout, then the output is stable.
            await copiers.WaitUntilNoTransactionIsOpen();
            var final = HistoryReader.ReadToEnd(cluster.Client, outputTopic);
            await stop.CancelAsync();
            await Task.WhenAll(readers);

            history = new ExactlyOnceHistory(seeder.Values, final, committedReader.Snapshot(), uncommittedReader.Snapshot());
            // The coordinators' counts are stored with their shards' state, so the silos killed along the way lost none.
            using var admin = new AdminClientBuilder(cluster.Client).Build();
            var coordinators = TransactionCoordinatorStats.None;
            foreach (var shard in await admin.DescribeTransactionCoordinatorsAsync()) coordinators += shard;
            output.WriteLine($"{seeder.Values.Count} values copied; {history.AbortedRecordsSeen} aborted records seen by read_uncommitted; {copiers.FencedExits} zombies fenced; {copiers.FencedRestarts} copiers restarted after a stall fenced them; {copiers.Restarts} restarts in all; coordinators: {coordinators}");
            Assert.Empty(history.Anomalies());
            Assert.True(history.AbortedRecordsSeen > 0, "the run aborted transactions that had written output (a read_uncommitted reader saw them)");
            Assert.True(coordinators.Commits > 0, $"the coordinators counted commits: {coordinators}");
            Assert.True(coordinators.ClientAborts + coordinators.TimeoutAborts + coordinators.FencedAborts > 0, $"the coordinators counted aborts: {coordinators}");
            // A restart is a new producer instance on its slot's transactional id, whose InitProducerId fences the one before;
            // a zombie is fenced at its transaction's timeout. Not one count per restart: a copier restarted near the end
            // can be stopped before its InitProducerId is stored.
            if (copiers.Restarts > 0)
                Assert.True(coordinators.InitProducerIdFencings > 0, $"{copiers.Restarts} restarts, counted as fencings: {coordinators}");
            if (copiers.FencedExits > 0)
                Assert.True(coordinators.TimeoutFencings > 0, $"{copiers.FencedExits} zombies, fenced at their timeout: {coordinators}");
            Assert.True(coordinators.InitProducerIdFencings + coordinators.TimeoutFencings > 0, $"the coordinators counted fencings: {coordinators}");
        }
        catch (Exception) when (SaveLogs(cluster, copiers, history))
        {
            throw;
        }
    }

    /// <summary>
    /// With OS_EOS_CHAOS_LOGS naming a directory, a failed run leaves every silo's and copier's output there (the silos
    /// log the transaction coordinator and the groups at Information), and, when the run got as far as the check, its
    /// anomalies. Returns false: a filter that only looks.
    /// </summary>
    private static bool SaveLogs(SiloProcesses cluster, CopierProcesses copiers, ExactlyOnceHistory? history = null)
    {
        if (Environment.GetEnvironmentVariable("OS_EOS_CHAOS_LOGS") is not { Length: > 0 } directory) return false;
        Directory.CreateDirectory(directory);
        for (var s = 0; s < 3; s++) File.WriteAllText(Path.Combine(directory, $"silo-{s}.log"), cluster.Output(s));
        File.WriteAllText(Path.Combine(directory, "copiers.log"), copiers.Output());
        if (history is not null) File.WriteAllLines(Path.Combine(directory, "anomalies.txt"), history.Anomalies());
        return false;
    }

    /// <summary>The input's producer: unique values, keyed so they spread over the partitions.</summary>
    private sealed class Seeder(IClusterClient client, string topic)
    {
        private readonly IProducer<string, string> _producer = new ProducerBuilder<string, string>(client, new ProducerConfig { LingerMs = 5 }).Build();

        public List<string> Values { get; } = [];

        public async Task SeedAsync(int count)
        {
            var sends = new List<Task>(count);
            for (var i = 0; i < count; i++)
            {
                var value = $"v{Values.Count:D7}";
                Values.Add(value);
                sends.Add(_producer.ProduceAsync(topic, new Message<string, string> { Key = value, Value = value }));
            }
            await Task.WhenAll(sends).WaitAsync(Deadline);
        }

        /// <summary>Seeds until the copiers' output trails the input by at least <paramref name="backlog"/> records.</summary>
        public async Task KeepBacklogAsync(HistoryReader output, int backlog, int batch)
        {
            while (Values.Count - output.DistinctValues < backlog) await SeedAsync(batch);
        }
    }

    /// <summary>A consumer that records every record it gets from every partition of a topic, from the beginning.</summary>
    private sealed class HistoryReader(IClusterClient client, string topic, IsolationLevel isolation)
    {
        private readonly List<ReadRecord> _reads = [];
        private readonly HashSet<string> _values = [];
        private Task? _reading;

        /// <summary>Records read so far; throws what stopped the reader, so that a wait on it fails at once.</summary>
        public int Count
        {
            get
            {
                if (_reading is { IsFaulted: true } failed) failed.GetAwaiter().GetResult();
                lock (_reads) return _reads.Count;
            }
        }

        public int DistinctValues
        {
            get
            {
                if (_reading is { IsFaulted: true } failed) failed.GetAwaiter().GetResult();
                lock (_reads) return _values.Count;
            }
        }

        public List<ReadRecord> Snapshot()
        {
            lock (_reads) return [.. _reads];
        }

        public Task Start(CancellationToken stop) => _reading = Task.Factory.StartNew(() =>
        {
            using var consumer = Assigned(client, topic, isolation, eof: false);
            try
            {
                while (true)
                {
                    var result = consumer.Consume(stop);
                    if (result.Message is null) continue;
                    lock (_reads)
                    {
                        _reads.Add(new ReadRecord(result.Partition, result.Offset, result.Message.Value));
                        _values.Add(result.Message.Value);
                    }
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
            }
        }, TaskCreationOptions.LongRunning);

        /// <summary>Every committed record of the topic, read until each partition's end.</summary>
        public static List<ReadRecord> ReadToEnd(IClusterClient client, string topic)
        {
            using var consumer = Assigned(client, topic, IsolationLevel.ReadCommitted, eof: true);
            using var deadline = new CancellationTokenSource(Deadline);
            var records = new List<ReadRecord>();
            var ended = new HashSet<int>();
            while (ended.Count < Partitions)
            {
                var result = consumer.Consume(deadline.Token);
                if (result.IsPartitionEOF) ended.Add(result.Partition);
                else if (result.Message is not null) records.Add(new ReadRecord(result.Partition, result.Offset, result.Message.Value));
            }
            return records;
        }

        private static IConsumer<string, string> Assigned(IClusterClient client, string topic, IsolationLevel isolation, bool eof)
        {
            var consumer = new ConsumerBuilder<string, string>(client,
                new ConsumerConfig { IsolationLevel = isolation, EnablePartitionEof = eof, FetchWaitMaxMs = 200 }).Build();
            var partitions = new List<TopicPartitionOffset>();
            for (var p = 0; p < Partitions; p++) partitions.Add(new TopicPartitionOffset(new TopicPartition(topic, p), Offset.Beginning));
            consumer.Assign(partitions);
            return consumer;
        }
    }

    /// <summary>The copier processes, one per transactional id "copier-{slot}"; a restart reuses its slot's id and so fences the previous one.</summary>
    private sealed class CopierProcesses(SiloProcesses cluster, string input, string outputTopic, string group) : IAsyncDisposable
    {
        private readonly ExternalProcess?[] _processes = new ExternalProcess?[Copiers];
        private readonly List<string> _finished = [];
        private readonly bool[] _started = new bool[Copiers];

        public int FencedExits { get; private set; }

        /// <summary>Starts of a slot that had a copier before: new producer instances on an initialized transactional id.</summary>
        public int Restarts { get; private set; }

        private string TransactionalId(int slot) => $"{group}-copier-{slot}";

        public void Start(int slot)
        {
            if (_started[slot]) Restarts++;
            _started[slot] = true;
            List<string> args =
            [
                "transactions", "copy", "--input-topic", input, "--output-topic", outputTopic, "--group-id", group,
                "--transactional-id", TransactionalId(slot), "--transaction-size", "100",
                "--transaction-timeout-ms", TransactionTimeoutMs.ToString(CultureInfo.InvariantCulture),
                "--consumer-props", "session.timeout.ms=6000", "heartbeat.interval.ms=1000",
            ];
            for (var s = 0; s < 3; s++) args.AddRange(["--gateway", cluster.Gateway(s)]);
            _processes[slot] = ExternalProcess.StartDotnet($"copier-{slot}", Repository.BuiltDll("OrleansStream.Cli", "orleansstream"), args,
                new Dictionary<string, string?> { ["Logging__LogLevel__Default"] = "Warning" });
        }

        /// <summary>Copiers fenced outside a zombie round (a kill's stall outlived their transaction timeout).</summary>
        public int FencedRestarts { get; private set; }

        /// <summary>
        /// A supervisor's restart of each copier that exited fenced, as Kafka's copier is run: a stall past the
        /// transaction timeout (a silo kill on a loaded machine) aborts the transaction with a bumped epoch, and the
        /// copier that wakes up finds itself fenced and exits. Returns false, so a wait's condition is still its own.
        /// </summary>
        public async Task<bool> RestartFenced()
        {
            for (var slot = 0; slot < Copiers; slot++)
            {
                if (_processes[slot] is not { HasExited: true } exited || !exited.Output.Contains("fenced: ", StringComparison.Ordinal)) continue;
                await Retire(slot);
                FencedRestarts++;
                Start(slot);
            }
            return false;
        }

        public Task WaitUntilCopying(int slot) => _processes[slot]!.WaitForOutputAsync("copying ", Deadline);

        public async Task Kill(int slot)
        {
            var process = _processes[slot]!;
            await process.KillAsync(Deadline);
            await Retire(slot);
        }

        /// <summary>
        /// SIGSTOP of a copier (the first found from <paramref name="first"/> on) while its transaction is open at the
        /// coordinator with output written, until the coordinator aborts it at its timeout with a bumped epoch; then SIGCONT: the copier's
        /// next call finds itself fenced and it exits. Returns the copier's slot. <paramref name="feed"/> keeps input
        /// coming while no copier has a transaction open.
        /// </summary>
        /// <remarks>
        /// A stopped process's requests already written to its sockets still arrive: an EndTxn sent just before the stop
        /// can reach the coordinator after the description that saw the transaction open (another connection), and then
        /// the copier itself completes the transaction and nothing is left to time out. Such a copier is resumed and
        /// another attempt made.
        /// </remarks>
        public async Task<int> MakeZombie(int first, Func<Task> feed)
        {
            while (true)
            {
                var (slot, frozen) = await FreezeInsideTransaction(first, feed);
                var coordinator = await Coordinator(slot);
                var seen = frozen;
                await Eventually.WaitUntilAsync(async () => (seen = await Describe(coordinator, slot)).State is not ("Ongoing" or "PrepareAbort" or "PrepareCommit"),
                    $"the coordinator aborts copier {slot}'s transaction at its timeout and fences it", Deadline,
                    () => $"{seen} (frozen as {frozen})\n{CoordinatorLog()}");
                var process = _processes[slot]!;
                process.Resume();
                if (seen is not { State: "CompleteAbort" } || seen.ProducerEpoch <= frozen.ProducerEpoch)
                {
                    // Completed by the copier's own request that was on its way: not a zombie.
                    first = slot + 1;
                    continue;
                }
                var exit = await process.WaitForExitAsync(Deadline);
                Assert.Contains("fenced: ", exit.Stdout);
                FencedExits++;
                await Retire(slot);
                return slot;
            }
        }

        private async Task<(int Slot, TransactionDescription Frozen)> FreezeInsideTransaction(int first, Func<Task> feed)
        {
            var slot = -1;
            TransactionDescription frozen = null!;
            var seen = new TransactionDescription[Copiers];
            await Eventually.WaitUntilAsync(async () =>
            {
                for (var i = 0; i < Copiers; i++)
                {
                    var candidate = (first + i) % Copiers;
                    var coordinator = await Coordinator(candidate);
                    if ((seen[candidate] = await Describe(coordinator, candidate)).State != "Ongoing") continue;
                    _processes[candidate]!.Freeze();
                    // Frozen: a commit already under way finishes its markers; what is left is what the zombie holds.
                    frozen = await StableDescription(coordinator, candidate);
                    // Its output partitions added: the SDK sends a transaction's batches as soon as AddPartitionsToTxn is
                    // answered, so the abort at the timeout leaves records a read_uncommitted reader sees.
                    if (frozen.State == "Ongoing" && frozen.Partitions.Any(p => p.Topic == outputTopic))
                    {
                        slot = candidate;
                        return true;
                    }
                    _processes[candidate]!.Resume();
                }
                await feed();
                return false;
            }, "a copier is stopped inside an open transaction", Deadline, () => $"{string.Join('\n', seen.AsEnumerable())}\n{Output()}\n{CoordinatorLog()}");
            return (slot, frozen);
        }

        /// <summary>Waits until no copier's transaction is open or being completed.</summary>
        public async Task WaitUntilNoTransactionIsOpen()
        {
            for (var slot = 0; slot < Copiers; slot++)
            {
                var coordinator = await Coordinator(slot);
                var s = slot;
                await Eventually.WaitUntilAsync(async () => (await Describe(coordinator, s)).State is "Empty" or "CompleteCommit" or "CompleteAbort" or "Dead",
                    $"copier {slot}'s last transaction is complete", Deadline);
            }
        }

        /// <summary>The silos' transaction coordinator log lines, the last ones of each.</summary>
        private string CoordinatorLog()
        {
            var lines = new List<string>();
            for (var s = 0; s < 3; s++)
            {
                var silo = cluster.Output(s).Split('\n')
                    .Where(l => l.Contains("OrleansStream.Server.Transactions", StringComparison.Ordinal) || l.Contains("OrleansStream.Server.Groups", StringComparison.Ordinal))
                    .TakeLast(150);
                lines.Add($"--- silo {s}\n{string.Join('\n', silo)}");
            }
            return string.Join('\n', lines);
        }

        public string Output()
        {
            var lines = new List<string>(_finished);
            foreach (var p in _processes)
                if (p is not null) lines.Add($"--- {p.Name} (running)\n{Tail(p.Output)}");
            return string.Join('\n', lines);
        }

        public async ValueTask DisposeAsync()
        {
            for (var slot = 0; slot < Copiers; slot++)
                if (_processes[slot] is not null) await Retire(slot);
        }

        private async Task Retire(int slot)
        {
            var process = _processes[slot]!;
            _finished.Add($"--- {process.Name}\n{Tail(process.Output)}");
            await process.DisposeAsync();
            _processes[slot] = null;
        }

        private async Task<TransactionDescription> StableDescription(ITransactionCoordinatorGrain coordinator, int slot)
        {
            TransactionDescription d = null!;
            await Eventually.WaitUntilAsync(async () => (d = await Describe(coordinator, slot)).State is not ("PrepareCommit" or "PrepareAbort"),
                $"copier {slot}'s transaction is not being completed", Deadline);
            return d;
        }

        private async Task<ITransactionCoordinatorGrain> Coordinator(int slot) =>
            cluster.Client.GetGrain<ITransactionCoordinatorGrain>(
                await cluster.Client.GetGrain<ITransactionCoordinatorLookupGrain>(0).FindCoordinator(TransactionalId(slot)));

        private async Task<TransactionDescription> Describe(ITransactionCoordinatorGrain coordinator, int slot) =>
            Assert.Single(await coordinator.DescribeTransactions([TransactionalId(slot)]));

        private static string Tail(string text) => text.Length <= 3000 ? text : text[^3000..];
    }
}

/// <summary>Six processes and a history of thousands of records: run alone, so neither it nor the tests beside it starve on a small machine.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ExactlyOnceChaosCollection
{
    public const string Name = "exactly-once chaos";
}
