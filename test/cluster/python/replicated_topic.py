"""The seeds' cluster steps (kafka-python): create a topic with --replication-factor 3, describe it (Leader / Replicas / Isr)."""
import json
import sys

from kafka.admin import KafkaAdminClient, NewTopic

bootstrap, topic, partitions, rf = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
admin = KafkaAdminClient(bootstrap_servers=bootstrap)
admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=rf)])
described = admin.describe_topics([topic])[0]
brokers = sorted(b['node_id'] for b in admin.describe_cluster()['brokers'])
admin.close()
print(json.dumps({
    'brokers': brokers,
    'partitions': sorted([p['partition'], p['leader'], sorted(p['replicas']), sorted(p['isr'])] for p in described['partitions']),
}))
