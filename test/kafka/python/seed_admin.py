"""KafkaAdminClient: create, list and describe topics and groups (kafka-python)."""
import json
import sys

from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewPartitions, NewTopic
from kafka.errors import TopicAlreadyExistsError, InvalidReplicationFactorError

bootstrap, topic = sys.argv[1], sys.argv[2]
admin = KafkaAdminClient(bootstrap_servers=bootstrap)
out = {}
admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1, topic_configs={'retention.ms': '86400000'})])
try:
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    out['duplicate'] = 'created'
except TopicAlreadyExistsError:
    out['duplicate'] = 'TopicAlreadyExistsError'
try:
    admin.create_topics([NewTopic(topic + '-rf', num_partitions=1, replication_factor=3)])
    out['rf3'] = 'created'
except InvalidReplicationFactorError:
    out['rf3'] = 'InvalidReplicationFactorError'
out['topics'] = sorted(admin.list_topics())
described = admin.describe_topics([topic])
out['described'] = [[t['topic'], len(t['partitions']), t['error_code']] for t in described]
configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
out['retention'] = [c[1] for c in configs[0].resources[0][4] if c[0] == 'retention.ms']
admin.create_partitions({topic: NewPartitions(total_count=4)})
out['partitions_after'] = len(admin.describe_topics([topic])[0]['partitions'])
out['groups'] = sorted(g[0] for g in admin.list_consumer_groups())
admin.close()
print(json.dumps(out))
