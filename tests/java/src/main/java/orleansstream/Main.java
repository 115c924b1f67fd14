package orleansstream;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.FeatureUpdate;
import org.apache.kafka.clients.admin.UpdateFeaturesOptions;
import org.apache.kafka.clients.admin.DescribeConfigsOptions;
import org.apache.kafka.clients.admin.DescribeTopicsOptions;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.admin.NewPartitionReassignment;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.ElectionType;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionReplica;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.ElectionNotNeededException;
import org.apache.kafka.common.errors.NoReassignmentInProgressException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The Apache Kafka Java client against an OrleansStream broker: one subcommand per scenario, each printing what it saw
 * as one JSON object on its last stdout line for the test to check. Anything that goes wrong throws and exits non-zero.
 */
public final class Main {
    private static final Duration POLL = Duration.ofMillis(100);
    private static final long DEADLINE_MS = 60_000;

    public static void main(String[] args) throws Exception {
        if (args.length < 2) throw new IllegalArgumentException("usage: Main <produce|group|admin|txn|streams> <bootstrap> ...");
        var bootstrap = args[1];
        var json = switch (args[0]) {
            case "produce" -> produce(bootstrap, Integer.parseInt(args[2]), java.util.Arrays.copyOfRange(args, 3, args.length));
            case "group" -> group(bootstrap, args[2], args[3], Integer.parseInt(args[4]));
            case "admin" -> admin(bootstrap, args[2], args[3]);
            case "txn" -> transactionalCopy(bootstrap, args[2], args[3], args[4], args[5], Integer.parseInt(args[6]), Boolean.parseBoolean(args[7]));
            case "streams" -> Streams.run(bootstrap, args[2], args[3], args[4], args[5], Integer.parseInt(args[6]));
            default -> throw new IllegalArgumentException("unknown command " + args[0]);
        };
        System.out.println(json);
        System.out.flush();
        // Kafka Streams and the clients' daemon threads must not keep the JVM alive.
        System.exit(0);
    }

    /**
     * The producer with its defaults (idempotence on, acks=all) but for {@code compression.type}, one producer per
     * {@code topic:codec}: keys k0.., values v0.., what each send was acknowledged at.
     */
    static Json produce(String bootstrap, int count, String[] topicCodecs) throws Exception {
        var topics = new ArrayList<Json>();
        for (var topicCodec : topicCodecs) {
            var topic = topicCodec.substring(0, topicCodec.lastIndexOf(':'));
            var props = producerProperties(bootstrap);
            props.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, topicCodec.substring(topicCodec.lastIndexOf(':') + 1));
            try (var producer = new KafkaProducer<String, String>(props)) {
                var futures = new ArrayList<java.util.concurrent.Future<RecordMetadata>>();
                for (int i = 0; i < count; i++) futures.add(producer.send(new ProducerRecord<>(topic, "k" + i, "v" + i)));
                producer.flush();
                var records = new ArrayList<Json>();
                for (int i = 0; i < count; i++) {
                    var metadata = futures.get(i).get(30, TimeUnit.SECONDS);
                    records.add(new Json().put("key", "k" + i).put("partition", metadata.partition()).put("offset", metadata.offset()));
                }
                topics.add(new Json().put("topic", topic).put("records", records).put("partitions", producer.partitionsFor(topic).size()));
            }
        }
        return new Json().put("topics", topics);
    }

    /**
     * Two members of one group on one thread (each consumer is used by this thread only): the first takes every partition,
     * the second's join moves some to it, both consume and commit, the second's leave gives them back; then seek and
     * offsetsForTimes on the first.
     */
    static Json group(String bootstrap, String topic, String group, int count) {
        var json = new Json();
        var first = new KafkaConsumer<String, String>(consumerProperties(bootstrap, group, "read_uncommitted"));
        var second = new KafkaConsumer<String, String>(consumerProperties(bootstrap, group, "read_uncommitted"));
        try (first; second) {
            var revoked = new ArrayList<Json>();
            first.subscribe(List.of(topic), listener("first", revoked));
            var all = new HashSet<TopicPartition>();
            for (PartitionInfo p : first.partitionsFor(topic)) all.add(new TopicPartition(topic, p.partition()));
            var consumed = new TreeMap<String, ConsumerRecord<String, String>>();

            pollUntil(() -> first.assignment().equals(all), "the first member owns every partition", consumed, first);
            json.put("firstAlone", first.assignment().size());

            second.subscribe(List.of(topic), listener("second", revoked));
            pollUntil(() -> !second.assignment().isEmpty() && !first.assignment().isEmpty()
                    && union(first.assignment(), second.assignment()).equals(all)
                    && first.assignment().size() + second.assignment().size() == all.size(),
                "the second member's join splits the partitions", consumed, first, second);
            json.put("firstAfterJoin", first.assignment().size()).put("secondAfterJoin", second.assignment().size());

            // Each member reads its partitions to their ends (the first may have read some of the second's before it joined).
            var ends = first.endOffsets(all);
            pollUntil(() -> consumed.size() >= count && atEnd(first, ends) && atEnd(second, ends), count + " records consumed", consumed, first, second);
            first.commitSync();
            second.commitSync();
            second.close();

            pollUntil(() -> first.assignment().equals(all), "the first member owns every partition again after the leave", consumed, first);
            json.put("firstAfterLeave", first.assignment().size());

            long committed = 0;
            for (var entry : first.committed(all).entrySet()) if (entry.getValue() != null) committed += entry.getValue().offset();
            json.put("committed", committed);
            json.put("revocations", revoked);

            var values = new ArrayList<Json>();
            for (var r : consumed.values()) values.add(new Json().put("key", r.key()).put("value", r.value()).put("partition", r.partition()).put("offset", r.offset()).put("timestamp", r.timestamp()));
            json.put("consumed", values);

            // offsetsForTimes by each partition's last record's timestamp.
            var lastByPartition = new HashMap<TopicPartition, ConsumerRecord<String, String>>();
            for (var r : consumed.values()) {
                var tp = new TopicPartition(r.topic(), r.partition());
                var last = lastByPartition.get(tp);
                if (last == null || r.offset() > last.offset()) lastByPartition.put(tp, r);
            }
            var query = new HashMap<TopicPartition, Long>();
            for (var e : lastByPartition.entrySet()) query.put(e.getKey(), e.getValue().timestamp());
            var times = new ArrayList<Json>();
            for (Map.Entry<TopicPartition, OffsetAndTimestamp> e : first.offsetsForTimes(query).entrySet()) {
                // Kafka's answer: the earliest offset whose timestamp is at or after the one asked for.
                long expected = Long.MAX_VALUE;
                for (var r : consumed.values())
                    if (r.partition() == e.getKey().partition() && r.timestamp() >= query.get(e.getKey())) expected = Math.min(expected, r.offset());
                times.add(new Json().put("partition", e.getKey().partition()).put("expected", expected)
                    .put("offset", e.getValue() == null ? -1 : e.getValue().offset()));
            }
            json.put("offsetsForTimes", times);

            // seek: back to offset 0 of the first partition, the next record polled from it is offset 0 again.
            var tp0 = new TopicPartition(topic, 0);
            first.seek(tp0, 0);
            var again = new ArrayList<ConsumerRecord<String, String>>();
            var deadline = System.currentTimeMillis() + DEADLINE_MS;
            while (again.isEmpty()) {
                if (System.currentTimeMillis() > deadline) throw new IllegalStateException("nothing polled after the seek");
                for (var r : first.poll(POLL)) if (r.partition() == 0) again.add(r);
            }
            json.put("afterSeek", again.get(0).offset());
            json.put("endOffsets", sum(first.endOffsets(all).values()));
            json.put("beginningOffsets", sum(first.beginningOffsets(all).values()));
        }
        return json;
    }

    /** AdminClient: create, describe, configs (describe, incremental alter), a consumer group described, delete. */
    static Json admin(String bootstrap, String topic, String group) throws Exception {
        var json = new Json();
        var props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        try (var admin = Admin.create(props)) {
            admin.createTopics(List.of(new NewTopic(topic, 3, (short) 1).configs(Map.of("retention.ms", "3600000")))).all().get();
            json.put("listed", admin.listTopics().names().get().contains(topic));

            TopicDescription description = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
            json.put("partitions", description.partitions().size());
            json.put("leaders", description.partitions().stream().allMatch(p -> p.leader() != null && p.leader().id() >= 0));
            // DescribeTopicPartitions (KIP-966) one partition a response: the client follows the broker's cursors.
            TopicDescription paged = admin.describeTopics(List.of(topic), new DescribeTopicsOptions().partitionSizeLimitPerResponse(1))
                .allTopicNames().get().get(topic);
            json.put("pagedSame", paged.equals(description));
            try {
                admin.describeTopics(List.of(topic + "-missing")).allTopicNames().get();
                json.put("missingTopic", "described");
            } catch (java.util.concurrent.ExecutionException e) {
                json.put("missingTopic", e.getCause() instanceof UnknownTopicOrPartitionException ? "UnknownTopicOrPartition" : e.getCause().toString());
            }
            json.put("clusterId", admin.describeCluster().clusterId().get());
            json.put("brokers", admin.describeCluster().nodes().get().size());

            var resource = new ConfigResource(ConfigResource.Type.TOPIC, topic);
            json.put("retentionCreated", describeConfig(admin, resource, "retention.ms"));
            json.put("retentionDefinition", describeDefinition(admin, resource, "retention.ms"));
            admin.incrementalAlterConfigs(Map.of(resource, List.of(
                new AlterConfigOp(new ConfigEntry("retention.ms", "7200000"), AlterConfigOp.OpType.SET),
                new AlterConfigOp(new ConfigEntry("cleanup.policy", "compact"), AlterConfigOp.OpType.APPEND)))).all().get();
            json.put("retentionAltered", describeConfig(admin, resource, "retention.ms"));
            json.put("cleanupPolicyAltered", describeConfig(admin, resource, "cleanup.policy"));

            // kafka-log-dirs.sh: each broker's log directory, with the topic's partitions where they are (RF 1: once each).
            var brokerIds = new ArrayList<Integer>();
            for (var node : admin.describeCluster().nodes().get()) brokerIds.add(node.id());
            int logDirPartitions = 0;
            boolean volumeSizes = true;
            var replicaDirs = new HashMap<TopicPartitionReplica, String>();
            for (var brokerDirs : admin.describeLogDirs(brokerIds).allDescriptions().get().entrySet())
                for (var dir : brokerDirs.getValue().entrySet()) {
                    volumeSizes &= dir.getValue().error() == null && dir.getValue().totalBytes().isPresent() && dir.getValue().usableBytes().isPresent();
                    for (var replica : dir.getValue().replicaInfos().entrySet())
                        if (replica.getKey().topic().equals(topic) && replica.getValue().offsetLag() == 0 && !replica.getValue().isFuture()) {
                            logDirPartitions++;
                            replicaDirs.put(new TopicPartitionReplica(topic, replica.getKey().partition(), brokerDirs.getKey()), dir.getKey());
                        }
                }
            json.put("logDirPartitions", logDirPartitions);
            json.put("logDirVolumeSizes", volumeSizes);
            // kafka-reassign-partitions.sh with log_dirs: each replica to the directory it is in (each broker has one),
            // then one to a directory the broker does not have.
            int logDirsKept = 0;
            for (var kept : admin.alterReplicaLogDirs(replicaDirs).values().values()) {
                kept.get();
                logDirsKept++;
            }
            json.put("logDirsKept", logDirsKept);
            var anyReplica = replicaDirs.keySet().iterator().next();
            try {
                admin.alterReplicaLogDirs(Map.of(anyReplica, "/not-a-log-dir")).all().get();
                json.put("logDirElsewhere", "moved");
            } catch (java.util.concurrent.ExecutionException e) {
                json.put("logDirElsewhere", e.getCause().getClass().getSimpleName());
            }
            // kafka-leader-election.sh: a new topic's preferred replicas lead already.
            var partition0 = new TopicPartition(topic, 0);
            var elected = admin.electLeaders(ElectionType.PREFERRED, Set.of(partition0)).partitions().get();
            json.put("electionNotNeeded", elected.get(partition0).map(e -> e instanceof ElectionNotNeededException).orElse(false));

            // kafka-reassign-partitions.sh --execute and --verify: partition 0 to another broker, listed until done, then a
            // cancellation with none in progress.
            int from = description.partitions().get(0).leader().id();
            int to = -1;
            for (var id : brokerIds) if (id != from) to = id;
            admin.alterPartitionReassignments(Map.of(partition0, java.util.Optional.of(new NewPartitionReassignment(List.of(to))))).all().get();
            var reassignDeadline = System.currentTimeMillis() + DEADLINE_MS;
            while (!admin.listPartitionReassignments().reassignments().get().isEmpty()
                    || admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions().get(0).leader().id() != to) {
                if (System.currentTimeMillis() > reassignDeadline) throw new IllegalStateException("the reassignment did not complete");
            }
            var moved = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions().get(0);
            json.put("reassigned", moved.replicas().size() == 1 && moved.replicas().get(0).id() == to && moved.isr().size() == 1 && moved.isr().get(0).id() == to);
            json.put("reassignmentsListed", admin.listPartitionReassignments(Set.of(partition0)).reassignments().get().size());
            try {
                admin.alterPartitionReassignments(Map.of(partition0, java.util.Optional.empty())).all().get();
                json.put("cancelNone", "cancelled");
            } catch (java.util.concurrent.ExecutionException e) {
                json.put("cancelNone", e.getCause() instanceof NoReassignmentInProgressException ? "NoReassignmentInProgress" : e.getCause().toString());
            }

            // kafka-features.sh describe, downgrade and upgrade: transaction.version through ApiVersions and UpdateFeatures.
            json.put("transactionVersion", transactionVersion(admin));
            admin.updateFeatures(Map.of("transaction.version", new FeatureUpdate((short) 1, FeatureUpdate.UpgradeType.SAFE_DOWNGRADE)),
                new UpdateFeaturesOptions()).all().get();
            json.put("transactionVersionDowngraded", transactionVersionAfter(admin, "1/2"));
            admin.updateFeatures(Map.of("transaction.version", new FeatureUpdate((short) 2, FeatureUpdate.UpgradeType.UPGRADE)),
                new UpdateFeaturesOptions()).all().get();
            json.put("transactionVersionUpgraded", transactionVersionAfter(admin, "2/2"));

            var consumer = new KafkaConsumer<String, String>(consumerProperties(bootstrap, group, "read_uncommitted"));
            try (consumer) {
                consumer.subscribe(List.of(topic));
                pollUntil(() -> consumer.assignment().size() == 3, "the member owns the topic's partitions", new TreeMap<>(), consumer);
                consumer.commitSync(Map.of(new TopicPartition(topic, 1), new OffsetAndMetadata(0)));
                ConsumerGroupDescription groupDescription = admin.describeConsumerGroups(List.of(group)).all().get().get(group);
                json.put("groupState", groupDescription.groupState().toString());
                json.put("groupMembers", groupDescription.members().size());
                int assigned = 0;
                for (MemberDescription m : groupDescription.members()) assigned += m.assignment().topicPartitions().size();
                json.put("groupAssigned", assigned);
                json.put("groupListed", admin.listConsumerGroups().all().get().stream().anyMatch(g -> g.groupId().equals(group)));
                json.put("groupOffsets", admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get().size());
            }

            admin.deleteTopics(List.of(topic)).all().get();
            json.put("listedAfterDelete", admin.listTopics().names().get().contains(topic));
        }
        return json;
    }

    /**
     * The transactional copy (Kafka's consume-transform-produce loop): a read_committed member of the group reads
     * {@code count} records of {@code input}, the producer writes each upper-cased to {@code output} and sends the
     * consumer's offsets with its group metadata, then commits or aborts.
     */
    static Json transactionalCopy(String bootstrap, String input, String output, String group, String transactionalId, int count, boolean commit) {
        var json = new Json();
        var producerProps = producerProperties(bootstrap);
        producerProps.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId);
        var consumerProps = consumerProperties(bootstrap, group, "read_committed");
        try (var producer = new KafkaProducer<String, String>(producerProps);
             var consumer = new KafkaConsumer<String, String>(consumerProps)) {
            producer.initTransactions();
            consumer.subscribe(List.of(input));
            var consumed = new TreeMap<String, ConsumerRecord<String, String>>();
            pollUntil(() -> consumed.size() >= count, count + " input records consumed", consumed, consumer);

            producer.beginTransaction();
            var offsets = new HashMap<TopicPartition, OffsetAndMetadata>();
            for (var r : consumed.values()) {
                producer.send(new ProducerRecord<>(output, r.key(), r.value().toUpperCase(java.util.Locale.ROOT)));
                var tp = new TopicPartition(r.topic(), r.partition());
                var next = offsets.get(tp);
                if (next == null || next.offset() < r.offset() + 1) offsets.put(tp, new OffsetAndMetadata(r.offset() + 1));
            }
            producer.sendOffsetsToTransaction(offsets, consumer.groupMetadata());
            // Every record reaches the log before the decision: an abort drops the batches not yet sent.
            producer.flush();
            if (commit) producer.commitTransaction();
            else producer.abortTransaction();
            json.put("copied", consumed.size()).put("committed", commit);
        }
        return json;
    }

    static Properties producerProperties(String bootstrap) {
        var props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        return props;
    }

    static Properties consumerProperties(String bootstrap, String group, String isolation) {
        var props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation);
        return props;
    }

    private static String describeConfig(Admin admin, ConfigResource resource, String name) throws Exception {
        Config config = admin.describeConfigs(List.of(resource)).all().get().get(resource);
        ConfigEntry entry = config.get(name);
        return entry == null ? null : entry.value() + "/" + entry.source();
    }

    /** DescribeConfigs v3+: the config's type and whether it came with documentation, asked for. */
    private static String describeDefinition(Admin admin, ConfigResource resource, String name) throws Exception {
        Config config = admin.describeConfigs(List.of(resource), new DescribeConfigsOptions().includeDocumentation(true)).all().get().get(resource);
        ConfigEntry entry = config.get(name);
        return entry == null ? null : entry.type() + "/" + (entry.documentation() != null && !entry.documentation().isBlank());
    }

    /** The finalized and highest supported level of transaction.version, as describeFeatures (ApiVersions) answers them. */
    private static String transactionVersion(Admin admin) throws Exception {
        var features = admin.describeFeatures().featureMetadata().get();
        var finalized = features.finalizedFeatures().get("transaction.version");
        return (finalized == null ? 0 : finalized.maxVersionLevel()) + "/" + features.supportedFeatures().get("transaction.version").maxVersion();
    }

    /** describeFeatures asks any broker; one other than the controller's answers a change within its next poll. */
    private static String transactionVersionAfter(Admin admin, String expected) throws Exception {
        var deadline = System.currentTimeMillis() + DEADLINE_MS;
        String seen;
        while (!(seen = transactionVersion(admin)).equals(expected) && System.currentTimeMillis() < deadline) { }
        return seen;
    }

    private static ConsumerRebalanceListener listener(String member, List<Json> revoked) {
        return new ConsumerRebalanceListener() {
            @Override public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
                if (!partitions.isEmpty()) revoked.add(new Json().put("member", member).put("partitions", partitions.size()));
            }
            @Override public void onPartitionsAssigned(Collection<TopicPartition> partitions) { }
        };
    }

    @SafeVarargs
    static void pollUntil(java.util.function.BooleanSupplier condition, String what, Map<String, ConsumerRecord<String, String>> consumed, KafkaConsumer<String, String>... consumers) {
        var deadline = System.currentTimeMillis() + DEADLINE_MS;
        while (!condition.getAsBoolean()) {
            if (System.currentTimeMillis() > deadline) throw new IllegalStateException("Timed out waiting until " + what);
            for (var consumer : consumers)
                for (var r : consumer.poll(POLL)) consumed.put(r.topic() + "/" + r.partition() + "/" + r.offset(), r);
        }
    }

    private static boolean atEnd(KafkaConsumer<String, String> consumer, Map<TopicPartition, Long> ends) {
        for (var tp : consumer.assignment()) if (consumer.position(tp) < ends.get(tp)) return false;
        return true;
    }

    private static Set<TopicPartition> union(Set<TopicPartition> a, Set<TopicPartition> b) {
        var all = new HashSet<>(a);
        all.addAll(b);
        return all;
    }

    private static long sum(Collection<Long> values) {
        long total = 0;
        for (long v : values) total += v;
        return total;
    }
}
