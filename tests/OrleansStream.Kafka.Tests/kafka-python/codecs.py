# kafka-python's own compression framing (gzip, xerial snappy, lz4 frames, zstd) through the broker: each codec's
# batches go to a topic whose compression.type is another codec, so the broker must read the client's framing and
# write its own, and kafka-python reads the broker's back. Usage: python3 codecs.py <bootstrap> <topic prefix> <count>
# Prints one JSON line per codec; any failure exits non-zero (a missing kafka-python or codec module too).
import json
import sys

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.structs import TopicPartition

bootstrap, prefix, count = sys.argv[1].split(','), sys.argv[2], int(sys.argv[3])
TOPIC_CODEC = {'gzip': 'zstd', 'snappy': 'gzip', 'lz4': 'snappy', 'zstd': 'lz4'}

admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id='kafka-python-admin')
for codec, topic_codec in TOPIC_CODEC.items():
    topic = f'{prefix}-{codec}'
    admin.create_topics([NewTopic(topic, 1, 1, topic_configs={'compression.type': topic_codec})], timeout_ms=30000)
    producer = KafkaProducer(bootstrap_servers=bootstrap, compression_type=codec, linger_ms=50, acks='all')
    futures = [producer.send(topic, key=f'k{i}'.encode(), value=f'{codec}-{i}-'.encode() * 20) for i in range(count)]
    producer.flush()
    offsets = [f.get(timeout=30).offset for f in futures]
    producer.close()
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, client_id='kafka-python-reader', consumer_timeout_ms=5000)
    consumer.assign([TopicPartition(topic, 0)])
    consumer.seek_to_beginning()
    records = []
    for record in consumer:
        records.append({'offset': record.offset, 'key': record.key.decode(), 'value': record.value.decode()})
        if len(records) == count:
            break
    consumer.close()
    print(json.dumps({'codec': codec, 'topicCodec': topic_codec, 'offsets': offsets, 'records': records}))
admin.close()
