using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using OrleansStream.Cli.Perf;
using OrleansStream.Client;

namespace OrleansStream.Cli.Commands;

/// <summary><c>perf produce</c> and <c>perf consume</c>: kafka-producer-perf-test and kafka-consumer-perf-test.</summary>
internal static class PerfCommands
{
    private static readonly TimeSpan ReportingInterval = TimeSpan.FromSeconds(5);

    public static Command Build()
    {
        var perf = new Command("perf", "Measure produce and consume throughput and latency");
        perf.Subcommands.Add(Produce());
        perf.Subcommands.Add(Consume());
        return perf;
    }

    private static Command Produce()
    {
        var topic = new Option<string>("--topic") { Description = "Topic to produce to", Required = true };
        var numRecords = new Option<long>("--num-records") { Description = "Records to send", Required = true };
        var recordSize = new Option<int>("--record-size") { Description = "Value size in bytes", Required = true };
        var throughput = new Option<double>("--throughput") { Description = "Target records/sec; -1 for no limit", DefaultValueFactory = _ => -1 };
        var acks = new Option<string>("--acks")
        {
            Description = "0, 1 or all (all: the idempotent producer unless --producer-props enable.idempotence=false)",
            DefaultValueFactory = _ => "1",
        };
        acks.AcceptOnlyFromAmong("0", "1", "all", "-1");
        // As kafka-producer-perf-test: --producer-props linger.ms=0 batch.size=16384 (several pairs after one flag).
        var properties = new Option<string[]>("--producer-props")
        {
            Description = "Producer config key=value pairs (linger.ms=0 batch.size=16384 ...)",
            Arity = ArgumentArity.OneOrMore,
            AllowMultipleArgumentsPerToken = true,
        };
        var warmupRecords = new Option<long>("--warmup-records")
        {
            Description = "Records at the start left out of a second, steady-state summary (Kafka's KIP-1052)",
            DefaultValueFactory = _ => 0,
        };
        var compression = ProduceCommand.CompressionOption();
        // As kafka-producer-perf-test: either flag makes the run transactional, committing every duration.
        var transactionalId = new Option<string?>("--transactional-id")
        {
            Description = "Produce in transactions with this transactional.id (default performance-producer-default-transactional-id when only --transaction-duration-ms is given)",
        };
        var transactionDuration = new Option<long?>("--transaction-duration-ms")
        {
            Description = "Commit the open transaction after this many ms (default 3000 when --transactional-id is given)",
        };
        var command = new Command("produce", "Send records as fast as allowed and report throughput and latency percentiles")
        {
            topic, numRecords, recordSize, throughput, acks, compression, properties, warmupRecords, transactionalId, transactionDuration,
        };
        command.SetAction(async (parse, ct) =>
        {
            var topicName = parse.GetRequiredValue(topic);
            long n = parse.GetValue(numRecords);
            int size = parse.GetValue(recordSize);
            if (n <= 0)
                throw new CliException("--num-records must be positive", ExitCodes.Usage);
            if (size < 0)
                throw new CliException("--record-size must be >= 0", ExitCodes.Usage);
            long warmup = parse.GetValue(warmupRecords);
            if (warmup < 0 || warmup >= n)
                throw new CliException("--warmup-records must be >= 0 and less than --num-records", ExitCodes.Usage);
            var config = new ProducerConfig(CliApp.ParseKeyValues(parse.GetValue(properties), "--producer-props"));
            config.Set("acks", parse.GetValue(acks));
            ProduceCommand.ApplyCompression(parse, compression, config);
            var txnId = parse.GetValue(transactionalId);
            var txnDurationMs = parse.GetValue(transactionDuration);
            var transactional = txnId is not null || txnDurationMs is not null;
            if (transactional)
            {
                if (txnDurationMs is <= 0)
                    throw new CliException("--transaction-duration-ms must be positive", ExitCodes.Usage);
                config.TransactionalId = txnId ?? "performance-producer-default-transactional-id";
                // A transactional producer needs acks=all: it is the default here unless --acks was given.
                if (parse.GetResult(acks) is not { Implicit: false }) config.Set("acks", "all");
            }
            var txnDurationTicks = (long)((txnDurationMs ?? 3000) * Stopwatch.Frequency / 1000.0);

            // kafka-producer-perf-test's payload: random upper-case letters, one array for every record.
            var payload = new byte[size];
            for (int i = 0; i < size; i++)
                payload[i] = (byte)('A' + Random.Shared.Next(26));

            await using var connection = await CliApp.ConnectAsync(parse, ct);
            await TopicPartitions.ResolveAsync(connection.Client, topicName, null);
            using var producer = new ProducerBuilder<byte[], byte[]>(connection.Client, config).Build();
            var stats = new ProducerPerfStats(Console.Out);
            ProducerPerfStats? steady = null;
            if (warmup > 0)
                Console.Out.WriteLine($"Warmup first {warmup} records. Steady state results will print after the complete test summary.");
            var throttler = new ThroughputThrottler(parse.GetValue(throughput));
            long transactionStart = 0, transactions = 0;
            var commitLatency = new LatencyHistogram();
            if (transactional)
            {
                producer.InitTransactions(TimeSpan.FromSeconds(60));
                producer.BeginTransaction();
                transactionStart = Stopwatch.GetTimestamp();
            }
            using var reporting = new CancellationTokenSource();
            var reporter = ReportEveryAsync(stats.PrintWindow, reporting.Token);
            // Pooled messages and the producer's allocation-free delivery path: the run measures the producer, not
            // objects this loop or a report per record would make.
            var records = new PerfRecordPool(payload);
            var handler = new PerfDeliveryHandler(records, stats, size);
            var allocations = AllocationMeter.Start();
            AllocationMeter? steadyAllocations = null;
            try
            {
                for (long i = 0; i < n; i++)
                {
                    ct.ThrowIfCancellationRequested();
                    if (transactional && Stopwatch.GetTimestamp() - transactionStart >= txnDurationTicks)
                    {
                        Commit(producer, commitLatency);
                        transactions++;
                        producer.BeginTransaction();
                        transactionStart = Stopwatch.GetTimestamp();
                    }
                    if (i == warmup && warmup > 0)
                    {
                        steady = new ProducerPerfStats(TextWriter.Null);
                        steadyAllocations = AllocationMeter.Start();
                    }
                    producer.Produce(topicName, records.Next(steady), handler);
                    if (throttler.Enabled)
                        await throttler.ThrottleAsync(i + 1, ct);
                }
                if (transactional)
                {
                    Commit(producer, commitLatency);
                    transactions++;
                }
                else await producer.FlushAsync(ct);
            }
            catch (KafkaException e) when (transactional)
            {
                throw new CliException($"The transaction failed: {e.Error.Code}: {e.Error.Reason}", ExitCodes.Failed, e);
            }
            finally
            {
                await reporting.CancelAsync();
                await reporter;
            }
            // Allocation lines first: scripts read the last line for the rate.
            Console.Out.WriteLine(allocations.Summary(n));
            if (steadyAllocations is not null)
                Console.Out.WriteLine(steadyAllocations.Summary(n - warmup, steadyState: true));
            Console.Out.WriteLine(stats.Total());
            if (transactional)
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{transactions} transactions committed, commit latency p50 {commitLatency.PercentileMicros(50) / 1000.0:F1} ms, p99 {commitLatency.PercentileMicros(99) / 1000.0:F1} ms, max {commitLatency.MaxMicros / 1000.0:F1} ms."));
            if (steady is not null)
                Console.Out.WriteLine(steady.Total(steadyState: true));
            if (stats.Errors > 0)
                throw new CliException($"{stats.Errors} of {n} records failed; first: {stats.FirstError}");
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Consume()
    {
        var topic = new Option<string>("--topic") { Description = "Topic to consume", Required = true };
        var messages = new Option<long>("--messages") { Description = "Records to consume", Required = true };
        var timeout = new Option<int>("--timeout-ms") { Description = "Give up when nothing arrives for this long", DefaultValueFactory = _ => 10000 };
        var properties = new Option<string[]>("--consumer-props")
        {
            Description = "Consumer config key=value pairs (fetch.max.bytes=52428800 ...)",
            Arity = ArgumentArity.OneOrMore,
            AllowMultipleArgumentsPerToken = true,
        };
        var warmupRecords = new Option<long>("--warmup-records")
        {
            Description = "Records at the start left out of a second, steady-state allocation line",
            DefaultValueFactory = _ => 0,
        };
        var command = new Command("consume", "Read records from the beginning of every partition and report throughput")
        {
            topic, messages, timeout, properties, warmupRecords,
        };
        command.SetAction(async (parse, ct) =>
        {
            var topicName = parse.GetRequiredValue(topic);
            long n = parse.GetValue(messages);
            int timeoutMs = parse.GetValue(timeout);
            if (n <= 0)
                throw new CliException("--messages must be positive", ExitCodes.Usage);
            if (timeoutMs <= 0)
                throw new CliException("--timeout-ms must be positive", ExitCodes.Usage);
            long warmup = parse.GetValue(warmupRecords);
            if (warmup < 0 || warmup >= n)
                throw new CliException("--warmup-records must be >= 0 and less than --messages", ExitCodes.Usage);
            var config = new ConsumerConfig(CliApp.ParseKeyValues(parse.GetValue(properties), "--consumer-props"))
            {
                AutoOffsetReset = AutoOffsetReset.Earliest,
            };

            await using var connection = await CliApp.ConnectAsync(parse, ct);
            var partitions = await TopicPartitions.ResolveAsync(connection.Client, topicName, null);
            using var consumer = new ConsumerBuilder<byte[], byte[]>(connection.Client, config).Build();
            var assignment = new List<TopicPartitionOffset>(partitions.Count);
            foreach (var p in partitions)
                assignment.Add(new TopicPartitionOffset(p, Offset.Beginning));

            var counter = new ConsumeCounter();
            using var reporting = new CancellationTokenSource();
            var reporter = ReportEveryAsync(counter.PrintWindow, reporting.Token);
            long start = Stopwatch.GetTimestamp();
            var allocations = AllocationMeter.Start();
            AllocationMeter? steadyAllocations = null;
            consumer.Assign(assignment);
            try
            {
                if (warmup > 0)
                {
                    CountRecords(consumer, warmup, timeoutMs, counter, ct);
                    steadyAllocations = AllocationMeter.Start();
                }
                CountRecords(consumer, n, timeoutMs, counter, ct);
            }
            finally
            {
                await reporting.CancelAsync();
                await reporter;
            }
            double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            Console.Out.WriteLine(allocations.Summary(Math.Max(counter.Count, 1)));
            if (steadyAllocations is not null)
                Console.Out.WriteLine(steadyAllocations.Summary(Math.Max(counter.Count - warmup, 1), steadyState: true));
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{counter.Count} records consumed, {ProducerPerfStats.Rate(counter.Count, seconds):F1} records/sec ({ProducerPerfStats.Rate(counter.Bytes, seconds) / ProducerPerfStats.Mb:F2} MB/sec), {counter.Bytes / ProducerPerfStats.Mb:F2} MB in {seconds:F2} s."));
            if (counter.Count < n)
                throw new CliException($"exiting before consuming the expected number of records: timeout ({timeoutMs} ms) exceeded after {counter.Count} of {n}");
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>CommitTransaction, timed from the call to its return (the flush of the transaction's records included).</summary>
    private static void Commit(IProducer<byte[], byte[]> producer, LatencyHistogram latency)
    {
        var start = Stopwatch.GetTimestamp();
        producer.CommitTransaction();
        latency.Record((long)Stopwatch.GetElapsedTime(start).TotalMicroseconds);
    }

    private static async Task ReportEveryAsync(Action report, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(ReportingInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
                report();
        }
        catch (OperationCanceledException)
        {
            // The run ended; the caller prints the final line.
        }
    }

    /// <summary>Hands out what is fetched until <paramref name="n"/> records are counted or nothing arrives within the timeout.</summary>
    private static void CountRecords(IConsumer<byte[], byte[]> consumer, long n, int timeoutMs, ConsumeCounter counter, CancellationToken ct)
    {
        while (counter.Count < n)
        {
            ct.ThrowIfCancellationRequested();
            // Poll reads the records in place: no object and no copy per record.
            var records = consumer.Poll(timeoutMs);
            if (records.IsEmpty)
                return;
            foreach (var record in records)
            {
                counter.Add(record.Key.Length + record.Value.Length);
                if (counter.Count >= n)
                    return;
            }
        }
    }

    /// <summary>Times each delivery from its send and returns its record to the pool.</summary>
    private sealed class PerfDeliveryHandler(PerfRecordPool records, ProducerPerfStats stats, int size) : IDeliveryHandler<byte[], byte[]>
    {
        public void OnDelivered(Message<byte[], byte[]> message, TopicPartitionOffset topicPartitionOffset, Timestamp timestamp, PersistenceStatus status, Error error)
        {
            var record = (PerfRecord)message;
            if (error.IsError)
                stats.Error($"{error.Code}: {error.Reason}");
            else
            {
                long micros = (long)Stopwatch.GetElapsedTime(record.SendStart).TotalMicroseconds;
                stats.Record(micros, size);
                record.Steady?.Record(micros, size);
            }
            records.Return(record);
        }
    }

    private sealed class ConsumeCounter
    {
        private long _count;
        private long _bytes;
        private long _windowStart = Stopwatch.GetTimestamp();
        private long _windowCount;
        private long _windowBytes;

        public long Count => Interlocked.Read(ref _count);

        public long Bytes => Interlocked.Read(ref _bytes);

        public void Add(int bytes)
        {
            Interlocked.Increment(ref _count);
            Interlocked.Add(ref _bytes, bytes);
            Interlocked.Increment(ref _windowCount);
            Interlocked.Add(ref _windowBytes, bytes);
        }

        public void PrintWindow()
        {
            long now = Stopwatch.GetTimestamp();
            double seconds = Stopwatch.GetElapsedTime(Interlocked.Exchange(ref _windowStart, now), now).TotalSeconds;
            long count = Interlocked.Exchange(ref _windowCount, 0);
            long bytes = Interlocked.Exchange(ref _windowBytes, 0);
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{count} records consumed, {ProducerPerfStats.Rate(count, seconds):F1} records/sec ({ProducerPerfStats.Rate(bytes, seconds) / ProducerPerfStats.Mb:F2} MB/sec)."));
        }
    }
}
