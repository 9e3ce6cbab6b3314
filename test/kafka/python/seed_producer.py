"""The seed documents' producers (kafka-python): acks=-1, string keys and values, explicit partitions, send().get()."""
import json
import sys

from kafka import KafkaProducer

bootstrap, topic, count, partitions = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
compression = sys.argv[5] if len(sys.argv) > 5 and sys.argv[5] != 'none' else None
pad = ' ' + '-' * int(sys.argv[6]) if len(sys.argv) > 6 else ''

producer = KafkaProducer(
    bootstrap_servers=bootstrap,
    acks=-1,
    key_serializer=str.encode,
    value_serializer=str.encode,
    compression_type=compression,
)
results = []
for i in range(count):
    my_key = '%02d-key' % i
    parts = int(my_key[0:2]) % partitions
    meta = producer.send(topic, key=my_key, value='学而不思则罔 %d%s' % (i, pad), partition=parts).get(timeout=30)
    results.append([meta.partition, meta.offset])
producer.flush()
producer.close()
print(json.dumps({'sent': results}))
