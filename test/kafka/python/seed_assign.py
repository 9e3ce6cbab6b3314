"""The seed documents' manual assignment (kafka-python): assign() over TopicPartitions with a group for commits."""
import json
import sys

from kafka import KafkaConsumer, TopicPartition

bootstrap, topic, partitions, timeout_ms = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
group = sys.argv[5] if len(sys.argv) > 5 else None

consumer = KafkaConsumer(
    group_id=group,
    auto_offset_reset='earliest',
    enable_auto_commit=group is not None,
    auto_commit_interval_ms=1000,
    max_poll_records=10,
    key_deserializer=lambda k: k.decode() if k is not None else None,
    value_deserializer=bytes.decode,
    bootstrap_servers=bootstrap,
    consumer_timeout_ms=timeout_ms,
)
consumer.assign([TopicPartition(topic=topic, partition=p) for p in range(partitions)])
records = [[m.partition, m.offset, m.key, m.value] for m in consumer]
if group is not None:
    consumer.commit()
consumer.close()
print(json.dumps({'records': records}))
