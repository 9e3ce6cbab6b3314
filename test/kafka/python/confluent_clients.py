"""confluent-kafka (librdkafka): idempotent producer, group consumer with commits, admin."""
import json
import sys
import time

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

bootstrap, topic, group, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
out = {}
admin = AdminClient({'bootstrap.servers': bootstrap})
for t, f in admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)]).items():
    f.result()
errors = []
producer = Producer({'bootstrap.servers': bootstrap, 'enable.idempotence': True, 'compression.codec': sys.argv[5] if len(sys.argv) > 5 else 'none'})
for i in range(count):
    producer.produce(topic, key='k%d' % i, value='v%d' % i, headers={'n': str(i)}, on_delivery=lambda e, m: errors.append(str(e)) if e else None)
producer.flush(30)
out['errors'] = errors

consumer = Consumer({'bootstrap.servers': bootstrap, 'group.id': group, 'auto.offset.reset': 'earliest', 'enable.auto.commit': False})
consumer.subscribe([topic])
got = []
deadline = time.time() + 30
while len(got) < count and time.time() < deadline:
    m = consumer.poll(0.2)
    if m is None or m.error():
        continue
    got.append([m.partition(), m.offset(), m.key().decode(), m.value().decode(), dict((k, v.decode()) for k, v in (m.headers() or []))['n']])
consumer.commit(asynchronous=False)
committed = consumer.committed(consumer.assignment(), timeout=10)
consumer.close()
out['records'] = sorted(got)
out['committed'] = sorted([tp.partition, tp.offset] for tp in committed)
out['groups'] = sorted(g.id for g in admin.list_groups(timeout=10))
out['topics'] = sorted(admin.list_topics(timeout=10).topics.keys())
print(json.dumps(out))
