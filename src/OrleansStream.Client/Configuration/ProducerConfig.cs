using OrleansStream.Records;

namespace OrleansStream.Client;

/// <summary>Producer settings with Confluent.Kafka's names and Kafka's keys and defaults.</summary>
public class ProducerConfig : Config
{
    public ProducerConfig() { }

    public ProducerConfig(IEnumerable<KeyValuePair<string, string>> config) : base(config) { }

    /// <summary>Replicas that must have a batch before it counts as delivered (<c>acks</c>: 0, 1, all; default all as in Kafka 3+).</summary>
    public Acks? Acks
    {
        get => GetEnum<Acks>("acks", static s => s switch
        {
            "0" => OrleansStream.Acks.None,
            "1" => OrleansStream.Acks.Leader,
            "all" or "-1" => OrleansStream.Acks.All,
            _ => null,
        });
        set => Set("acks", value switch
        {
            null => null,
            OrleansStream.Acks.None => "0",
            OrleansStream.Acks.Leader => "1",
            _ => "all",
        });
    }

    /// <summary>How long a partition's batch waits for more messages before it is sent (<c>linger.ms</c>, default 5).</summary>
    public int? LingerMs { get => GetInt("linger.ms"); set => SetInt("linger.ms", value); }

    /// <summary>Bytes a batch may grow to before it is sent (<c>batch.size</c>, default 16384).</summary>
    public int? BatchSize { get => GetInt("batch.size"); set => SetInt("batch.size", value); }

    /// <summary>
    /// Codec for the records of each batch (<c>compression.type</c>: none, gzip, snappy, lz4, zstd; default none). A
    /// batch is compressed once, when it closes; the broker stores it as sent and consumers decompress it.
    /// <c>batch.size</c> counts the bytes before compression.
    /// </summary>
    public CompressionType? CompressionType
    {
        get => GetEnum<CompressionType>("compression.type", static s => s switch
        {
            "none" => Records.CompressionType.None,
            "gzip" => Records.CompressionType.Gzip,
            "snappy" => Records.CompressionType.Snappy,
            "lz4" => Records.CompressionType.Lz4,
            "zstd" => Records.CompressionType.Zstd,
            _ => null,
        });
        set => Set("compression.type", value switch
        {
            null => null,
            Records.CompressionType.Gzip => "gzip",
            Records.CompressionType.Snappy => "snappy",
            Records.CompressionType.Lz4 => "lz4",
            Records.CompressionType.Zstd => "zstd",
            _ => "none",
        });
    }

    /// <summary>Time a message may take, retries included, before it fails (<c>message.timeout.ms</c>, default 300000).</summary>
    public int? MessageTimeoutMs { get => GetInt("message.timeout.ms"); set => SetInt("message.timeout.ms", value); }

    public Partitioner? Partitioner
    {
        get => GetEnum<Partitioner>("partitioner", static s => s switch
        {
            "random" => Client.Partitioner.Random,
            "consistent" => Client.Partitioner.Consistent,
            "consistent_random" => Client.Partitioner.ConsistentRandom,
            "murmur2" => Client.Partitioner.Murmur2,
            "murmur2_random" => Client.Partitioner.Murmur2Random,
            _ => null,
        });
        set => Set("partitioner", value switch
        {
            null => null,
            Client.Partitioner.Random => "random",
            Client.Partitioner.Consistent => "consistent",
            Client.Partitioner.ConsistentRandom => "consistent_random",
            Client.Partitioner.Murmur2 => "murmur2",
            _ => "murmur2_random",
        });
    }

    /// <summary>
    /// Produce requests in flight per partition (<c>max.in.flight.requests.per.connection</c>; default 5 with
    /// idempotence, else 1). With idempotence, up to 5 keep strict order per partition, retries included: the broker
    /// appends a batch only right after the one before it and answers a retried duplicate with its first offsets.
    /// Without idempotence, Orleans does not order concurrent calls to one grain, so above 1 records of one partition
    /// may be appended out of order, as in Kafka without idempotence; with 1 the sender puts every batch that became
    /// ready during a call into the next call (up to 1 MiB), so throughput does not depend on it.
    /// </summary>
    public int? MaxInFlight { get => GetInt("max.in.flight.requests.per.connection"); set => SetInt("max.in.flight.requests.per.connection", value); }

    /// <summary>
    /// Kafka's idempotent producer (<c>enable.idempotence</c>, default true as in Kafka 3+): each batch carries the
    /// producer id, epoch and a per-partition sequence, so a retry is written once and order holds with up to 5
    /// requests in flight. Implies acks=all. Left unset, it turns off when acks is 0 or 1 or
    /// max.in.flight.requests.per.connection is over 5 (Kafka's rule); set to true with those, it is a config error.
    /// </summary>
    public bool? EnableIdempotence { get => GetBool("enable.idempotence"); set => SetBool("enable.idempotence", value); }

    /// <summary>
    /// Largest message (key + value + headers + record overhead) the producer accepts (<c>message.max.bytes</c>, default
    /// 1000000). Idempotent, also the largest batch: a partition's batch grows past batch.size up to this while the
    /// partition has a request in flight (librdkafka's limit on a request's size).
    /// </summary>
    public int? MessageMaxBytes { get => GetInt("message.max.bytes"); set => SetInt("message.max.bytes", value); }

    /// <summary>Bytes of messages buffered and in flight before Produce waits (<c>queue.buffering.max.kbytes</c>, default 1 GiB).</summary>
    public int? QueueBufferingMaxKbytes { get => GetInt("queue.buffering.max.kbytes"); set => SetInt("queue.buffering.max.kbytes", value); }

    /// <summary>
    /// Messages buffered and in flight before Produce waits (<c>queue.buffering.max.messages</c>, default 100000 as in
    /// librdkafka; 0 for no limit). Bounds how many records, each with its message and delivery report, the producer
    /// holds when the cluster is slower than the caller.
    /// </summary>
    public int? QueueBufferingMaxMessages { get => GetInt("queue.buffering.max.messages"); set => SetInt("queue.buffering.max.messages", value); }

    /// <summary>Let metadata requests create a missing topic when the broker allows it (<c>allow.auto.create.topics</c>, default true).</summary>
    public bool? AllowAutoCreateTopics { get => GetBool("allow.auto.create.topics"); set => SetBool("allow.auto.create.topics", value); }

    /// <summary>Deliver <see cref="IProducer{TKey,TValue}.Produce(string, Message{TKey,TValue}, Action{DeliveryReport{TKey,TValue}})"/> reports (<c>dotnet.producer.enable.delivery.reports</c>, default true).</summary>
    public bool? EnableDeliveryReports { get => GetBool("dotnet.producer.enable.delivery.reports"); set => SetBool("dotnet.producer.enable.delivery.reports", value); }

    /// <summary>
    /// Makes the producer transactional (<c>transactional.id</c>): <see cref="IProducer{TKey,TValue}.InitTransactions"/>
    /// fences earlier producers with the same id, and records are written inside transactions that commit or abort
    /// atomically. Implies enable.idempotence and acks=all.
    /// </summary>
    public string? TransactionalId { get => Get("transactional.id"); set => Set("transactional.id", value); }

    /// <summary>How long the coordinator lets a transaction stay open before it aborts it (<c>transaction.timeout.ms</c>, default 60000).</summary>
    public int? TransactionTimeoutMs { get => GetInt("transaction.timeout.ms"); set => SetInt("transaction.timeout.ms", value); }

    /// <summary>Kafka's limit on requests in flight per partition for an idempotent producer (the broker keeps 5 batches per producer).</summary>
    internal const int MaxInFlightIdempotent = 5;

    internal ProducerSettings Resolve()
    {
        var acks = Acks ?? OrleansStream.Acks.All;
        var maxInFlight = MaxInFlight;
        var explicitIdempotence = EnableIdempotence;
        var transactionalId = TransactionalId;
        if (transactionalId is not null)
        {
            Require(transactionalId.Length > 0, "transactional.id", "must not be empty");
            Require(explicitIdempotence != false, "enable.idempotence", "must be true when transactional.id is set");
            explicitIdempotence = true;
        }
        if (explicitIdempotence == true)
        {
            Require(acks == OrleansStream.Acks.All, "acks", "must be all when enable.idempotence is true");
            Require(maxInFlight is null or <= MaxInFlightIdempotent, "max.in.flight.requests.per.connection",
                $"must be <= {MaxInFlightIdempotent} when enable.idempotence is true");
        }
        var idempotent = explicitIdempotence ?? (acks == OrleansStream.Acks.All && maxInFlight is null or <= MaxInFlightIdempotent);
        var s = new ProducerSettings(
            acks,
            LingerMs ?? 5,
            BatchSize ?? 16384,
            MessageTimeoutMs ?? 300000,
            Partitioner ?? Client.Partitioner.Murmur2Random,
            maxInFlight ?? (idempotent ? MaxInFlightIdempotent : 1),
            MessageMaxBytes ?? 1000000,
            (long)(QueueBufferingMaxKbytes ?? 1048576) * 1024,
            QueueBufferingMaxMessages ?? 100000,
            AllowAutoCreateTopics ?? true,
            EnableDeliveryReports ?? true,
            RetryBackoffMs,
            RequestTimeoutMs,
            MetadataMaxAgeMs,
            idempotent,
            CompressionType ?? Records.CompressionType.None,
            transactionalId,
            TransactionTimeoutMs ?? 60000);
        Require(s.LingerMs >= 0, "linger.ms", "must be >= 0");
        Require(s.BatchSize >= 1, "batch.size", "must be >= 1");
        Require(s.MessageTimeoutMs >= 1, "message.timeout.ms", "must be >= 1");
        Require(s.MaxInFlight >= 1, "max.in.flight.requests.per.connection", "must be >= 1");
        Require(s.MessageMaxBytes >= 1000, "message.max.bytes", "must be >= 1000");
        Require(s.QueueBufferingMaxBytes >= 1024, "queue.buffering.max.kbytes", "must be >= 1");
        Require(s.QueueBufferingMaxMessages >= 0, "queue.buffering.max.messages", "must be >= 0");
        Require(s.RetryBackoffMs >= 0, "retry.backoff.ms", "must be >= 0");
        Require(s.RequestTimeoutMs >= 1, "request.timeout.ms", "must be >= 1");
        Require(s.TransactionTimeoutMs >= 1, "transaction.timeout.ms", "must be >= 1");
        return s;
    }
}

internal sealed record ProducerSettings(
    Acks Acks,
    int LingerMs,
    int BatchSize,
    int MessageTimeoutMs,
    Partitioner Partitioner,
    int MaxInFlight,
    int MessageMaxBytes,
    long QueueBufferingMaxBytes,
    int QueueBufferingMaxMessages,
    bool AllowAutoCreateTopics,
    bool EnableDeliveryReports,
    int RetryBackoffMs,
    int RequestTimeoutMs,
    int MetadataMaxAgeMs,
    bool EnableIdempotence,
    CompressionType CompressionType = CompressionType.None,
    string? TransactionalId = null,
    int TransactionTimeoutMs = 60000);
