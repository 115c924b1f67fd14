using System.CommandLine;
using System.Text;
using OrleansStream.Client;

namespace OrleansStream.Cli.Commands;

/// <summary><c>produce</c>: one record per stdin line, like kafka-console-producer.sh.</summary>
internal static class ProduceCommand
{
    public static readonly Option<string> Acks = new("--acks")
    {
        Description = "Replicas that must have a record before it counts: 0, 1 or all (all: the idempotent producer, Kafka's default; --producer-property enable.idempotence=false turns it off)",
        DefaultValueFactory = _ => "all",
    };

    static ProduceCommand() => Acks.AcceptOnlyFromAmong("0", "1", "all", "-1");

    /// <summary><c>--compression</c>: the producer's <c>compression.type</c>, one option per command that produces.</summary>
    public static Option<string?> CompressionOption()
    {
        var option = new Option<string?>("--compression") { Description = "Batch compression (compression.type): none, gzip, snappy, lz4 or zstd" };
        option.AcceptOnlyFromAmong("none", "gzip", "snappy", "lz4", "zstd");
        return option;
    }

    /// <summary>Sets <c>compression.type</c> when <c>--compression</c> was given; otherwise a producer property may.</summary>
    public static void ApplyCompression(ParseResult parse, Option<string?> compression, ProducerConfig config)
    {
        if (parse.GetValue(compression) is { } codec)
            config.Set("compression.type", codec);
    }

    public static Command Build()
    {
        var topic = new Option<string>("--topic") { Description = "Topic to produce to", Required = true };
        var separator = new Option<string?>("--key-separator") { Description = "Text before the first separator on a line is the key" };
        var partition = new Option<int?>("--partition") { Description = "Partition to write to (default: the partitioner's choice)" };
        var properties = new Option<string[]>("--producer-property") { Description = "Producer config key=value, repeatable (linger.ms=5, batch.size=16384, ...)", Arity = ArgumentArity.OneOrMore };
        var compression = CompressionOption();
        var command = new Command("produce", "Produce one record per line of standard input") { topic, Acks, separator, partition, compression, properties };
        command.SetAction(async (parse, ct) =>
        {
            var topicName = parse.GetRequiredValue(topic);
            var sep = parse.GetValue(separator);
            if (sep is { Length: 0 })
                throw new CliException("--key-separator must not be empty", ExitCodes.Usage);
            int? fixedPartition = parse.GetValue(partition);
            if (fixedPartition < 0)
                throw new CliException("--partition must be >= 0", ExitCodes.Usage);
            var config = new ProducerConfig(CliApp.ParseKeyValues(parse.GetValue(properties), "--producer-property"));
            // Lines are a sequence: the idempotent producer (acks=all) keeps their order with 5 in flight and writes a
            // retried line once; with acks 0 or 1 it is off and one request is in flight (the producer's defaults).
            config.Set("acks", parse.GetValue(Acks));
            ApplyCompression(parse, compression, config);

            await using var connection = await CliApp.ConnectAsync(parse, ct);
            using var producer = new ProducerBuilder<byte[], byte[]>(connection.Client, config).Build();
            var outcome = new Outcome();
            void Handler(DeliveryReport<byte[], byte[]> report) => outcome.Report(report.Error);

            using var stdin = new StreamReader(Console.OpenStandardInput(), new UTF8Encoding(false), false, 65536);
            long lineNumber = 0;
            while (await stdin.ReadLineAsync(ct) is { } line)
            {
                lineNumber++;
                outcome.Sent();
                byte[]? key = null;
                string value = line;
                if (sep is not null)
                {
                    int at = line.IndexOf(sep, StringComparison.Ordinal);
                    if (at < 0)
                    {
                        outcome.Fail($"line {lineNumber}: no key separator '{sep}'");
                        continue;
                    }
                    key = Encoding.UTF8.GetBytes(line[..at]);
                    value = line[(at + sep.Length)..];
                }
                var message = new Message<byte[], byte[]> { Key = key!, Value = Encoding.UTF8.GetBytes(value) };
                try
                {
                    if (fixedPartition is { } p)
                        producer.Produce(new TopicPartition(topicName, p), message, Handler);
                    else
                        producer.Produce(topicName, message, Handler);
                }
                catch (OrleansStreamException e)
                {
                    outcome.Report(new Error(e.Code, e.Message));
                }
            }
            await producer.FlushAsync(ct);
            return outcome.Finish();
        });
        return command;
    }

    /// <summary>Counts failures from delivery handlers (any thread) and keeps the first reason.</summary>
    private sealed class Outcome
    {
        private long _sent;
        private long _failed;
        private string? _first;

        public void Sent() => Interlocked.Increment(ref _sent);

        public void Report(Error error)
        {
            if (error.IsError)
                Fail($"{error.Code}: {error.Reason}");
        }

        public void Fail(string reason)
        {
            Interlocked.Increment(ref _failed);
            Interlocked.CompareExchange(ref _first, reason, null);
        }

        public int Finish()
        {
            long failed = Interlocked.Read(ref _failed);
            if (failed == 0)
                return ExitCodes.Success;
            throw new CliException($"{failed} of {Interlocked.Read(ref _sent)} records failed; first: {_first}");
        }
    }
}
