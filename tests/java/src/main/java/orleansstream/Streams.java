package orleansstream;

import java.time.Duration;
import java.util.Locale;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Produced;

/**
 * A Kafka Streams application with exactly_once_v2: {@code map} upper-cases each value (stateless), {@code count}
 * counts records per value, re-keyed by value (a repartition topic and a changelog topic, both made by Streams through
 * CreateTopics). It runs until it has committed {@code expected} input records, then closes.
 */
final class Streams {
    private Streams() { }

    static Json run(String bootstrap, String input, String output, String applicationId, String kind, int expected) throws Exception {
        var props = new Properties();
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, applicationId);
        props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        props.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        props.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 100);
        props.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, 1);
        props.put(StreamsConfig.STATE_DIR_CONFIG, java.nio.file.Files.createTempDirectory("kafka-streams").toString());
        // In-memory stores: the count's state lives in its changelog topic, no RocksDB files.
        props.put(StreamsConfig.DSL_STORE_SUPPLIERS_CLASS_CONFIG, org.apache.kafka.streams.state.BuiltInDslStoreSuppliers.InMemoryDslStoreSuppliers.class);
        props.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");

        var builder = new StreamsBuilder();
        var source = builder.<String, String>stream(input);
        switch (kind) {
            case "map" -> source.mapValues(v -> v.toUpperCase(Locale.ROOT)).to(output);
            case "count" -> source.groupBy((k, v) -> v, Grouped.as("by-value")).count()
                .toStream().mapValues(Object::toString).to(output, Produced.with(Serdes.String(), Serdes.String()));
            default -> throw new IllegalArgumentException("unknown topology " + kind);
        }

        var failed = new java.util.concurrent.atomic.AtomicReference<Throwable>();
        var done = new CountDownLatch(1);
        try (var streams = new KafkaStreams(builder.build(), props)) {
            streams.setUncaughtExceptionHandler(e -> {
                failed.set(e);
                done.countDown();
                return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
            });
            streams.start();
            var deadline = System.currentTimeMillis() + 90_000;
            while (committedInput(bootstrap, applicationId, input) < expected) {
                if (failed.get() != null) throw new IllegalStateException("Kafka Streams failed", failed.get());
                if (System.currentTimeMillis() > deadline) throw new IllegalStateException("Timed out waiting until Kafka Streams commits " + expected + " input records; state " + streams.state());
                done.await(200, TimeUnit.MILLISECONDS);
            }
            var state = streams.state().toString();
            streams.close(Duration.ofSeconds(30));
            return new Json().put("state", state).put("kind", kind);
        }
    }

    /** The input records the application's group has committed, summed over the input's partitions. */
    private static long committedInput(String bootstrap, String group, String input) throws Exception {
        var props = new Properties();
        props.put("bootstrap.servers", bootstrap);
        try (var admin = org.apache.kafka.clients.admin.Admin.create(props)) {
            long total = 0;
            for (var e : admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get().entrySet())
                if (e.getKey().topic().equals(input) && e.getValue() != null) total += e.getValue().offset();
            return total;
        }
    }
}
