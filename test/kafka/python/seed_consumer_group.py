"""The seed documents' group consumer (kafka-python): group_id, auto_offset_reset='earliest', auto-commit."""
import json
import sys

from kafka import KafkaConsumer

bootstrap, topic, group, timeout_ms = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

consumer = KafkaConsumer(
    topic,
    group_id=group,
    auto_offset_reset='earliest',
    enable_auto_commit=True,
    auto_commit_interval_ms=1000,
    max_poll_records=10,
    key_deserializer=lambda k: k.decode() if k is not None else None,
    value_deserializer=bytes.decode,
    bootstrap_servers=bootstrap,
    consumer_timeout_ms=timeout_ms,
)
records = [[m.partition, m.offset, m.key, m.value] for m in consumer]
consumer.close()  # commits the consumed offsets
print(json.dumps({'records': records}))
