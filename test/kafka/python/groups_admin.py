"""KafkaAdminClient views of a consumer group: describe, list, offsets."""
import json
import sys

from kafka.admin import KafkaAdminClient

bootstrap, group = sys.argv[1], sys.argv[2]
admin = KafkaAdminClient(bootstrap_servers=bootstrap)
described = admin.describe_consumer_groups([group])
offsets = admin.list_consumer_group_offsets(group)
print(json.dumps({
    'state': described[0].state,
    'protocol_type': described[0].protocol_type,
    'groups': sorted(g[0] for g in admin.list_consumer_groups()),
    'offsets': sorted([tp.topic, tp.partition, om.offset] for tp, om in offsets.items()),
}))
admin.close()
