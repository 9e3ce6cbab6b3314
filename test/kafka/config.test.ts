/** Kafka adapter settings: defaults, the streams section, validation, and advertised endpoints. */
import assert from 'node:assert/strict';
import { DEFAULT_KAFKA_SETTINGS, resolveKafkaSettings } from '../../adapters/kafka/index.js';
import { ApiKey } from '../../adapters/kafka/protocol/apis.js';
import { RawKafkaClient } from './raw-client.js';
import { startKafka } from './support.js';

describe('kafka: settings', () => {
  it('defaults, streams section and kafka keys, in that order of precedence', () => {
    assert.deepEqual(resolveKafkaSettings({}), DEFAULT_KAFKA_SETTINGS);
    const s = resolveKafkaSettings({ streams: { defaultPartitions: 3, autoCreate: false }, kafka: { port: 9092, maxMessageBytes: 5, advertisedHost: 'h' } });
    assert.deepEqual([s.defaultPartitions, s.autoCreateTopics, s.maxMessageBytes, s.advertisedHost], [3, false, 5, 'h']);
    assert.equal(resolveKafkaSettings({ streams: { defaultPartitions: 3 }, kafka: { defaultPartitions: 6 } }).defaultPartitions, 6);
    assert.throws(() => resolveKafkaSettings({ kafka: { maxMessageBytes: 'big' } }), /^ConfigError: kafka\.maxMessageBytes: must be an integer >= 1 \(got "big"\)$/);
    assert.throws(() => resolveKafkaSettings({ kafka: { defaultPartitions: 0 } }), /kafka\.defaultPartitions: must be an integer from 1 to 10000, or null/);
    assert.throws(() => resolveKafkaSettings({ kafka: { saslMechanisms: 'PLAIN' } }), /kafka\.saslMechanisms: must be a list/);
    assert.throws(() => resolveKafkaSettings({ kafka: { saslMechanisms: ['GSSAPI'] } }), /kafka\.saslMechanisms\[0\]: must be one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512/);
  });

  it('advertises the configured host and port in Metadata and FindCoordinator', async () => {
    const b = await startKafka({ kafka: { advertisedHost: 'kafka.example', advertisedPort: 19999, nodeId: 7 } });
    const c = await RawKafkaClient.connect(b.port);
    try {
      const md = await c.request(ApiKey.Metadata, 5, { topics: null, allowAutoTopicCreation: false });
      assert.deepEqual([md.brokers[0].nodeId, md.brokers[0].host, md.brokers[0].port, md.controllerId], [7, 'kafka.example', 19999, 7]);
      const fc = await c.request(ApiKey.FindCoordinator, 0, { key: 'g' });
      assert.deepEqual([fc.errorCode, fc.nodeId, fc.host, fc.port], [0, 7, 'kafka.example', 19999]);
      const fc4 = await c.request(ApiKey.FindCoordinator, 4, { keyType: 0, coordinatorKeys: ['a', 'b'] });
      assert.deepEqual(fc4.coordinators.map((x: { key: string; port: number }) => [x.key, x.port]), [['a', 19999], ['b', 19999]]);
      const tx = await c.request(ApiKey.FindCoordinator, 2, { key: 'tx', keyType: 1 });
      assert.equal(tx.errorCode, 15, 'no transaction coordinator');
    } finally {
      c.close();
      await b.close();
    }
  });

  it('auto-creates topics only when allowed, with the default partition count', async () => {
    const b = await startKafka({ kafka: { defaultPartitions: 3 } });
    const c = await RawKafkaClient.connect(b.port);
    try {
      const refused = await c.request(ApiKey.Metadata, 4, { topics: [{ name: 'no-auto' }], allowAutoTopicCreation: false });
      assert.equal(refused.topics[0].errorCode, 3);
      const v1 = await c.request(ApiKey.Metadata, 1, { topics: [{ name: 'auto-v1' }] });
      assert.deepEqual([v1.topics[0].errorCode, v1.topics[0].partitions.length], [0, 3], 'Metadata v0-3 always allow it (kafka-python)');
      const bad = await c.request(ApiKey.Metadata, 4, { topics: [{ name: 'bad/name' }], allowAutoTopicCreation: true });
      assert.equal(bad.topics[0].errorCode, 17);
      const ids = await c.request(ApiKey.Metadata, 12, { topics: [{ name: 'auto-v1', topicId: Buffer.alloc(16) }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: true });
      const id = ids.topics[0].topicId as Buffer;
      assert.ok(!id.equals(Buffer.alloc(16)), 'a topic id');
      assert.ok(ids.topics[0].topicAuthorizedOperations > 0);
      const byId = await c.request(ApiKey.Metadata, 12, { topics: [{ name: null, topicId: id }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
      assert.equal(byId.topics[0].name, 'auto-v1');
    } finally {
      c.close();
      await b.close();
    }
  });
});

describe('kafka: concurrent auto-creation', () => {
  it('creates a topic once when many connections ask for it at the same time', async () => {
    const b = await startKafka({ kafka: { defaultPartitions: 2 } });
    const clients = await Promise.all(Array.from({ length: 8 }, () => RawKafkaClient.connect(b.port)));
    try {
      const answers = await Promise.all(clients.map((c) => c.request(ApiKey.Metadata, 4, { topics: [{ name: 'raced' }], allowAutoTopicCreation: true })));
      assert.ok(answers.every((a) => a.topics[0].errorCode === 0 && a.topics[0].partitions.length === 2));
      assert.equal(b.broker.getStream('raced')!.partitions.length, 2);
    } finally {
      for (const c of clients) c.close();
      await b.close();
    }
  });
});
