using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using OrleansStream.Cli.Perf;
using OrleansStream.Client;

namespace OrleansStream.Cli.Commands;

/// <summary>
/// <c>transactions copy</c>, Kafka's TransactionalMessageCopier: a member of a consumer group reads the input topic
/// read_committed, writes every record to the output topic and sends the input offsets in the same transaction, one
/// transaction per <c>--transaction-size</c> records (or fewer when the input pauses). A transaction that must abort
/// (a failed batch, a rebalance that took a partition it read from, a TxnOffsetCommit refused by KIP-447's checks) is
/// aborted and the consumer rewinds to the group's committed offsets; a fenced producer (a newer one with the same
/// transactional.id, or a transaction the coordinator aborted at its timeout) stops the copier with exit code 1.
/// </summary>
internal static class CopyCommand
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan InputPause = TimeSpan.FromMilliseconds(200);

    public static Command Build()
    {
        var input = new Option<string>("--input-topic") { Description = "Topic to read", Required = true };
        var output = new Option<string>("--output-topic") { Description = "Topic to write", Required = true };
        var group = new Option<string>("--group-id") { Description = "Consumer group of the copiers", Required = true };
        var transactionalId = new Option<string>("--transactional-id") { Description = "This copier's transactional.id", Required = true };
        var transactionSize = new Option<int>("--transaction-size") { Description = "Records per transaction", DefaultValueFactory = _ => 200 };
        var transactionTimeout = new Option<int>("--transaction-timeout-ms") { Description = "transaction.timeout.ms", DefaultValueFactory = _ => 60_000 };
        var maxMessages = new Option<long>("--max-messages") { Description = "Stop after copying this many records; -1 copies until stopped", DefaultValueFactory = _ => -1 };
        var consumerProps = new Option<string[]>("--consumer-props")
        {
            Description = "Consumer config key=value pairs (session.timeout.ms=10000 ...)",
            Arity = ArgumentArity.OneOrMore,
            AllowMultipleArgumentsPerToken = true,
        };
        var producerProps = new Option<string[]>("--producer-props")
        {
            Description = "Producer config key=value pairs (linger.ms=5 ...)",
            Arity = ArgumentArity.OneOrMore,
            AllowMultipleArgumentsPerToken = true,
        };
        var command = new Command("copy", "Copy a topic to another exactly once: consume, produce and commit the input offsets in one transaction")
        {
            input, output, group, transactionalId, transactionSize, transactionTimeout, maxMessages, consumerProps, producerProps,
        };
        command.SetAction(async (parse, ct) =>
        {
            var size = parse.GetValue(transactionSize);
            if (size <= 0)
                throw new CliException("--transaction-size must be positive", ExitCodes.Usage);
            var consumerConfig = new ConsumerConfig(CliApp.ParseKeyValues(parse.GetValue(consumerProps), "--consumer-props"))
            {
                GroupId = parse.GetRequiredValue(group),
                EnableAutoCommit = false,
                AutoOffsetReset = AutoOffsetReset.Earliest,
                IsolationLevel = IsolationLevel.ReadCommitted,
            };
            var producerConfig = new ProducerConfig(CliApp.ParseKeyValues(parse.GetValue(producerProps), "--producer-props"))
            {
                TransactionalId = parse.GetRequiredValue(transactionalId),
                TransactionTimeoutMs = parse.GetValue(transactionTimeout),
            };
            await using var connection = await CliApp.ConnectAsync(parse, ct);
            var copier = new Copier(connection.Client, consumerConfig, producerConfig, parse.GetRequiredValue(input), parse.GetRequiredValue(output),
                size, parse.GetValue(maxMessages));
            return await Task.Factory.StartNew(() => copier.Run(ct), ct, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        });
        return command;
    }

    private sealed class Copier(IClusterClient client, ConsumerConfig consumerConfig, ProducerConfig producerConfig,
        string inputTopic, string outputTopic, int transactionSize, long maxMessages)
    {
        private readonly Dictionary<TopicPartition, long> _offsets = [];
        private readonly LatencyHistogram _commitLatency = new();
        private bool _mustAbort;
        private long _copied;
        private long _transactions;
        private long _aborts;

        public int Run(CancellationToken ct)
        {
            using var consumer = new ConsumerBuilder<byte[], byte[]>(client, consumerConfig)
                .SetPartitionsRevokedHandler((_, partitions) => Taken(partitions))
                .SetPartitionsLostHandler((_, partitions) => Taken(partitions))
                .Build();
            using var producer = new ProducerBuilder<byte[], byte[]>(client, producerConfig).Build();
            try
            {
                Retrying(() => producer.InitTransactions(CallTimeout), ct);
                consumer.Subscribe(inputTopic);
                Console.Out.WriteLine($"copying {inputTopic} to {outputTopic} as {producerConfig.TransactionalId}");
                var start = Stopwatch.GetTimestamp();
                while (maxMessages < 0 || _copied < maxMessages)
                {
                    ct.ThrowIfCancellationRequested();
                    producer.BeginTransaction();
                    var count = Fill(consumer, producer, ct);
                    if (count > 0 && !_mustAbort && TryCommit(consumer, producer, ct))
                    {
                        _copied += count;
                        _transactions++;
                        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"committed {count} records ({_copied} in all)"));
                    }
                    else if (count > 0 || _mustAbort)
                    {
                        Abort(consumer, producer, ct);
                    }
                }
                var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{_copied} records copied in {_transactions} transactions ({_aborts} aborted), {ProducerPerfStats.Rate(_copied, seconds):F1} records/sec, commit latency p50 {_commitLatency.PercentileMicros(50) / 1000.0:F1} ms, p99 {_commitLatency.PercentileMicros(99) / 1000.0:F1} ms."));
                return ExitCodes.Success;
            }
            catch (KafkaException e) when (e.Error.IsFatal)
            {
                // A zombie: the coordinator gave this transactional.id a newer epoch. Only a restart may continue.
                Console.Out.WriteLine($"fenced: {e.Error.Code}: {e.Error.Reason}");
                return ExitCodes.Failed;
            }
        }

        /// <summary>Reads and produces up to a transaction's worth of records; returns early when the input pauses or a partition is taken.</summary>
        private int Fill(IConsumer<byte[], byte[]> consumer, IProducer<byte[], byte[]> producer, CancellationToken ct)
        {
            _offsets.Clear();
            _mustAbort = false;
            var count = 0;
            while (count < transactionSize && !_mustAbort && (maxMessages < 0 || _copied + count < maxMessages))
            {
                ct.ThrowIfCancellationRequested();
                ConsumeResult<byte[], byte[]>? result;
                try
                {
                    result = consumer.Consume(InputPause);
                }
                catch (KafkaException e) when (!e.Error.IsFatal)
                {
                    Console.Out.WriteLine($"consume failed: {e.Error.Code}: {e.Error.Reason}");
                    _mustAbort = count > 0;
                    break;
                }
                if (result is null)
                {
                    if (count > 0) break;
                    continue;
                }
                if (result.Message is null) continue;
                _offsets[result.TopicPartition] = result.Offset + 1;
                count++;
                try
                {
                    producer.Produce(outputTopic, new Message<byte[], byte[]> { Key = result.Message.Key, Value = result.Message.Value, Headers = result.Message.Headers });
                }
                catch (KafkaException e) when (!e.Error.IsFatal)
                {
                    // The transaction already failed (a batch of it was refused): only the abort is left.
                    _mustAbort = true;
                }
            }
            return count;
        }

        private bool TryCommit(IConsumer<byte[], byte[]> consumer, IProducer<byte[], byte[]> producer, CancellationToken ct)
        {
            var offsets = new List<TopicPartitionOffset>(_offsets.Count);
            foreach (var (tp, offset) in _offsets) offsets.Add(new TopicPartitionOffset(tp, offset));
            try
            {
                producer.SendOffsetsToTransaction(offsets, consumer.ConsumerGroupMetadata!, CallTimeout);
                var started = Stopwatch.GetTimestamp();
                Retrying(() => producer.CommitTransaction(CallTimeout), ct);
                _commitLatency.Record((long)Stopwatch.GetElapsedTime(started).TotalMicroseconds);
                return true;
            }
            catch (KafkaException e) when (!e.Error.IsFatal)
            {
                Console.Out.WriteLine($"aborting: {e.Error.Code}: {e.Error.Reason}");
                return false;
            }
        }

        /// <summary>Aborts the transaction and rewinds every assigned partition to the group's committed offset (Kafka's resetToLastCommittedPositions).</summary>
        private void Abort(IConsumer<byte[], byte[]> consumer, IProducer<byte[], byte[]> producer, CancellationToken ct)
        {
            Retrying(() => producer.AbortTransaction(CallTimeout), ct);
            _aborts++;
            // Rebalances happen only inside Consume, on this thread: the assignment stays as it is until the rewind is done.
            var assignment = consumer.Assignment;
            while (assignment.Count > 0)
            {
                try
                {
                    foreach (var committed in consumer.Committed(assignment, CallTimeout))
                        consumer.Seek(new TopicPartitionOffset(committed.TopicPartition, committed.Offset >= 0 ? committed.Offset : Offset.Beginning));
                    break;
                }
                catch (KafkaException e) when (!e.Error.IsFatal)
                {
                    ct.ThrowIfCancellationRequested();
                    Console.Out.WriteLine($"rewind failed, again: {e.Error.Code}: {e.Error.Reason}");
                }
            }
            Console.Out.WriteLine($"aborted; rewound {assignment.Count} partitions to their committed offsets");
        }

        /// <summary>A rebalance took partitions away: if this transaction read from one, it must not commit (its new owner starts from the committed offset).</summary>
        private void Taken(List<TopicPartitionOffset> partitions)
        {
            foreach (var p in partitions)
                if (_offsets.ContainsKey(p.TopicPartition)) _mustAbort = true;
        }

        /// <summary>A call that timed out (<see cref="KafkaRetriableException"/>) may be made again, as Kafka's producer allows.</summary>
        private static void Retrying(Action call, CancellationToken ct)
        {
            while (true)
            {
                try
                {
                    call();
                    return;
                }
                catch (KafkaRetriableException e)
                {
                    ct.ThrowIfCancellationRequested();
                    Console.Out.WriteLine($"retrying: {e.Error.Code}: {e.Error.Reason}");
                }
            }
        }
    }
}
