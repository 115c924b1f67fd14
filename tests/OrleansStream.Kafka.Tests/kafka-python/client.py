# kafka-python (pure Python) against the brokers: admin (create, describe, list, describe configs, grow and delete a
# topic), keyed produce with acks=all, a consumer group of two members that each read their partitions and commit, the group's offsets, members
# and listing read back through admin, the log end offsets by ListOffsets. Usage: python3 client.py <bootstrap> <topic> <group> <count>
# Prints one JSON line with what each step saw; any failure exits non-zero (a missing kafka-python too).
import json
import sys
import threading

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic
from kafka.structs import TopicPartition

from waiting import arm, until

bootstrap, topic, group, count = sys.argv[1].split(','), sys.argv[2], sys.argv[3], int(sys.argv[4])
PARTITIONS = 3
arm(90)

admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id='kafka-python-admin')
created = admin.create_topics([NewTopic(topic, PARTITIONS, 1)], timeout_ms=30000)
created_errors = [e[1] for e in created.topic_errors]
described = admin.describe_topics([topic])
listed = topic in admin.list_topics()

# Each member polls on its own thread (a member's join waits for the other's, as in any group).
lock = threading.Lock()
assignments = [[], []]
consumed = [[], []]
commit, stop = threading.Event(), threading.Event()
committed_by = [threading.Event(), threading.Event()]
failures = []


def member(i):
    try:
        consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, client_id=f'kafka-python-{i}',
                                 auto_offset_reset='earliest', enable_auto_commit=False)
        while not stop.is_set():
            batches = consumer.poll(timeout_ms=100)
            with lock:
                assignments[i] = sorted(tp.partition for tp in consumer.assignment())
                for records in batches.values():
                    consumed[i].extend({'partition': r.partition, 'offset': r.offset, 'key': r.key.decode(),
                                        'value': r.value.decode()} for r in records)
            if commit.is_set() and not committed_by[i].is_set():
                consumer.commit()
                committed_by[i].set()
        consumer.close()
    except Exception as e:  # noqa: BLE001 - reported by the main thread
        failures.append(repr(e))
        raise


def members_see(condition):
    if failures:
        raise RuntimeError(failures)
    with lock:
        return condition()


threads = [threading.Thread(target=member, args=(i,), daemon=True) for i in range(2)]
for t in threads:
    t.start()
# Both members are in the group, with the topic's partitions split between them, before anything is produced.
until('two members sharing the partitions',
      lambda: members_see(lambda: all(assignments) and sum(len(a) for a in assignments) == PARTITIONS))
assigned = [list(a) for a in assignments]

producer = KafkaProducer(bootstrap_servers=bootstrap, acks='all', client_id='kafka-python-producer')
futures = [producer.send(topic, key=f'k{i}'.encode(), value=f'v{i}'.encode()) for i in range(count)]
producer.flush()
produced = [{'key': f'k{i}', 'partition': f.get(timeout=30).partition, 'offset': f.get(timeout=30).offset}
            for i, f in enumerate(futures)]
producer.close()

until('every record consumed', lambda: members_see(lambda: sum(len(m) for m in consumed) >= count))
commit.set()
until('both members committed', lambda: members_see(lambda: all(e.is_set() for e in committed_by)))
members_described = admin.describe_consumer_groups([group])[0]
stop.set()
for t in threads:
    t.join()

committed = admin.list_consumer_group_offsets(group)
# ListOffsets (v1) for the log end offsets the commits should equal.
reader = KafkaConsumer(bootstrap_servers=bootstrap, client_id='kafka-python-reader')
end_offsets = reader.end_offsets([TopicPartition(topic, p) for p in range(PARTITIONS)])
reader.close()
configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])[0].resources[0]
grown = admin.create_partitions({topic: NewPartitions(PARTITIONS + 1)})
grown_errors = [e[1] for e in grown.topic_errors]
partitions_after_growth = len(admin.describe_topics([topic])[0]['partitions'])
groups_listed = any(g[0] == group for g in admin.list_consumer_groups())
deleted = admin.delete_topics([topic], timeout_ms=30000)
deleted_errors = [e[1] for e in deleted.topic_error_codes]
until('the topic gone', lambda: topic not in admin.list_topics())
admin.close()

print(json.dumps({
    'createdErrors': created_errors,
    'described': [{'topic': t['topic'], 'error': t['error_code'], 'partitions': len(t['partitions'])} for t in described],
    'listed': listed,
    'assignments': assigned,
    'produced': produced,
    'consumed': consumed,
    'groupMembers': len(members_described.members),
    'groupState': members_described.state,
    'committed': [{'partition': tp.partition, 'offset': o.offset} for tp, o in committed.items()],
    'groupListed': groups_listed,
    'endOffsets': [{'partition': tp.partition, 'offset': o} for tp, o in end_offsets.items()],
    'configError': configs[0],
    'configs': {c[0]: c[1] for c in configs[4]},
    'grownErrors': grown_errors,
    'partitionsAfterGrowth': partitions_after_growth,
    'deletedErrors': deleted_errors,
}))
