package orleansstream;

import java.time.Duration;
import java.util.HashMap;
import java.util.Locale;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Produced;

/**
 * A Kafka Streams application with exactly_once_v2: {@code map} upper-cases each value (stateless), {@code count}
 * counts records per value, re-keyed by value (a repartition topic and a changelog topic, both made by Streams through
 * CreateTopics). It runs until it has committed {@code expected} input records and processed everything it read, then closes.
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
            while (!caughtUp(bootstrap, applicationId, input, expected)) {
                if (failed.get() != null) throw new IllegalStateException("Kafka Streams failed", failed.get());
                if (System.currentTimeMillis() > deadline) throw new IllegalStateException("Timed out waiting until Kafka Streams commits " + expected + " input records and its repartition topics to their ends; state " + streams.state());
                done.await(200, TimeUnit.MILLISECONDS);
            }
            var state = streams.state().toString();
            streams.close(Duration.ofSeconds(30));
            return new Json().put("state", state).put("kind", kind);
        }
    }

    /**
     * Whether the application's group has committed {@code expected} records of the input and every partition of the
     * input and of its repartition topics up to the partition's last stable offset: everything read has been processed.
     */
    private static boolean caughtUp(String bootstrap, String group, String input, int expected) throws Exception {
        var props = new Properties();
        props.put("bootstrap.servers", bootstrap);
        try (var admin = Admin.create(props)) {
            var topics = new java.util.ArrayList<String>();
            topics.add(input);
            for (var name : admin.listTopics().names().get())
                if (name.startsWith(group + "-") && name.endsWith("-repartition")) topics.add(name);
            var latest = new HashMap<TopicPartition, OffsetSpec>();
            for (var description : admin.describeTopics(topics).allTopicNames().get().values())
                for (var p : description.partitions()) latest.put(new TopicPartition(description.name(), p.partition()), OffsetSpec.latest());
            var ends = admin.listOffsets(latest, new ListOffsetsOptions(IsolationLevel.READ_COMMITTED)).all().get();
            var committed = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
            long inputCommitted = 0;
            for (var tp : latest.keySet()) {
                var offset = committed.get(tp);
                long position = offset == null ? 0 : offset.offset();
                if (position < ends.get(tp).offset()) return false;
                if (tp.topic().equals(input)) inputCommitted += position;
            }
            return inputCommitted >= expected;
        }
    }
}
