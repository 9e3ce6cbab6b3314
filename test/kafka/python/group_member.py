"""One member of a kafka-python consumer group: polls for a while, then reports its assignment and records."""
import json
import sys
import time

from kafka import KafkaConsumer

bootstrap, topic, group, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset='earliest',
                         enable_auto_commit=True, auto_commit_interval_ms=500, session_timeout_ms=10000,
                         heartbeat_interval_ms=500, fetch_max_wait_ms=200)
records = []
assignments = []
end = time.time() + seconds
while time.time() < end:
    for tp, msgs in consumer.poll(timeout_ms=200).items():
        records.extend([m.partition, m.offset, m.value.decode()] for m in msgs)
    current = sorted(tp.partition for tp in consumer.assignment())
    if not assignments or assignments[-1] != current:
        assignments.append(current)
consumer.close()
print(json.dumps({'assignments': assignments, 'records': records}))
