/** Admin APIs with kafkajs: topics (create, delete, describe, partitions, configs) and groups. */
import assert from 'node:assert/strict';
import { kafkajs, startKafka, type KafkaTestBroker } from './support.js';
import { eventually } from '../support/index.js';

describe('kafka: admin with kafkajs', function () {
  this.timeout(60000);
  let b: KafkaTestBroker;
  beforeEach(async () => { b = await startKafka({ kafka: { defaultPartitions: 3 } }); });
  afterEach(async () => { await b.close(); });

  it('creates, lists, describes, grows and deletes topics', async () => {
    const admin = kafkajs(b.bootstrap).admin();
    await admin.connect();
    assert.equal(await admin.createTopics({
      topics: [
        { topic: 'a.b-c_d', numPartitions: 2, configEntries: [{ name: 'retention.ms', value: '3600000' }, { name: 'cleanup.policy', value: 'delete' }] },
        { topic: 'defaults' },
      ],
    }), true);
    assert.equal(await admin.createTopics({ topics: [{ topic: 'defaults' }] }), false, 'existing topic');
    assert.deepEqual((await admin.listTopics()).sort(), ['a.b-c_d', 'defaults']);
    const md = await admin.fetchTopicMetadata({ topics: ['a.b-c_d', 'defaults'] });
    assert.deepEqual(md.topics.map((t) => [t.name, t.partitions.length]).sort(), [['a.b-c_d', 2], ['defaults', 3]]);
    assert.deepEqual(md.topics[0].partitions[0].replicas, [0]);
    const stream = b.broker.getStream('a.b-c_d')!;
    assert.equal(stream.config.retentionMs, 3600000);

    await admin.createPartitions({ topicPartitions: [{ topic: 'a.b-c_d', count: 5 }] });
    assert.equal(b.broker.getStream('a.b-c_d')!.partitions.length, 5);
    await assert.rejects(admin.createPartitions({ topicPartitions: [{ topic: 'a.b-c_d', count: 2 }] }), /partitions|INVALID/i);

    const configs = await admin.describeConfigs({ resources: [{ type: 2, name: 'a.b-c_d' }], includeSynonyms: false });
    const entries = Object.fromEntries(configs.resources[0].configEntries.map((e) => [e.configName, e.configValue]));
    assert.equal(entries['retention.ms'], '3600000');
    assert.equal(entries['cleanup.policy'], 'delete');
    await admin.alterConfigs({ validateOnly: false, resources: [{ type: 2, name: 'a.b-c_d', configEntries: [{ name: 'retention.bytes', value: '1048576' }, { name: 'message.timestamp.type', value: 'LogAppendTime' }] }] });
    assert.equal(b.broker.getStream('a.b-c_d')!.config.retentionBytes, 1048576);
    assert.equal(b.broker.getStream('a.b-c_d')!.config.logAppendTime, true);
    assert.equal(b.broker.getStream('a.b-c_d')!.config.retentionMs, b.broker.options.streamDefaults.retentionMs ?? 7 * 24 * 3600 * 1000, 'AlterConfigs replaces the whole set');

    await admin.deleteTopics({ topics: ['defaults'] });
    assert.deepEqual(await admin.listTopics(), ['a.b-c_d']);
    await admin.disconnect();
  });

  it('refuses what a single node cannot do and Kafka would refuse', async () => {
    const admin = kafkajs(b.bootstrap).admin();
    await admin.connect();
    const refusal = async (topic: object) => {
      try {
        await admin.createTopics({ topics: [topic as never] });
        return 'created';
      } catch (err) {
        const e = err as { errors?: Array<{ type: string }>; type?: string };
        return e.errors?.[0]?.type ?? e.type ?? String(err);
      }
    };
    assert.equal(await refusal({ topic: 'rf', replicationFactor: 3 }), 'INVALID_REPLICATION_FACTOR');
    assert.equal(await refusal({ topic: 'bad name!' }), 'INVALID_TOPIC_EXCEPTION');
    assert.equal(await refusal({ topic: '..' }), 'INVALID_TOPIC_EXCEPTION');
    assert.equal(await refusal({ topic: 'x'.repeat(250) }), 'INVALID_TOPIC_EXCEPTION');
    assert.equal(await refusal({ topic: 'compacted', configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }), 'INVALID_CONFIG');
    assert.equal(await refusal({ topic: 'zero', numPartitions: 0 }), 'INVALID_PARTITIONS');
    assert.equal(await refusal({ topic: 'unknown-config', configEntries: [{ name: 'no.such.config', value: '1' }] }), 'INVALID_CONFIG');
    assert.equal(await refusal({ topic: 'ok.name' }), 'created');
    assert.equal(await refusal({ topic: 'ok_name' }), 'INVALID_TOPIC_EXCEPTION', "'.' and '_' collide");
    assert.deepEqual(await admin.listTopics(), ['ok.name']);
    await admin.disconnect();
  });

  it('lists, describes and deletes groups and fetches their offsets', async () => {
    const k = kafkajs(b.bootstrap);
    const admin = k.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'g-topic', numPartitions: 1 }] });
    const producer = k.producer();
    await producer.connect();
    await producer.send({ topic: 'g-topic', messages: [{ value: 'x' }, { value: 'y' }] });
    const consumer = k.consumer({ groupId: 'admin-group', maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topic: 'g-topic', fromBeginning: true });
    let n = 0;
    await consumer.run({ eachMessage: async () => { n++; } });
    await eventually(() => n >= 2, { timeout: 30000, what: 'both messages consumed' });
    const { groups } = await admin.listGroups();
    assert.deepEqual(groups, [{ groupId: 'admin-group', protocolType: 'consumer' }]);
    const described = await admin.describeGroups(['admin-group']);
    assert.equal(described.groups[0].protocol, 'RoundRobinAssigner');
    assert.equal(described.groups[0].members.length, 1);
    await assert.rejects(admin.deleteGroups(['admin-group']), (err: { groups?: Array<{ error?: { type?: string } }> }) => err.groups?.[0]?.error?.type === 'NON_EMPTY_GROUP');
    await consumer.disconnect();
    const offsets = await admin.fetchOffsets({ groupId: 'admin-group', topics: ['g-topic'] });
    assert.deepEqual(offsets[0].partitions.map((p) => p.offset), ['2']);
    const afterLeave = await admin.describeGroups(['admin-group']);
    assert.equal(afterLeave.groups[0].state, 'Empty');
    await admin.deleteGroups(['admin-group']);
    assert.deepEqual((await admin.listGroups()).groups, []);
    assert.equal(b.broker.offsets.list('admin-group').length, 0);
    await producer.disconnect();
    await admin.disconnect();
  });
});
