/**
 * Broker-wide topic and partition limits (limits.maxPartitionsPerTopic, maxPartitions, maxStreams,
 * enforced in the core) answered with Kafka's error codes, and the broker serving on afterwards.
 */
import assert from 'node:assert/strict';
import { ApiKey } from '../../adapters/kafka/protocol/apis.js';
import { ErrorCode } from '../../adapters/kafka/protocol/errors.js';
import { StreamLimitError } from '../../core/stream/stream-registry.js';
import { QueueLimitError } from '../../core/broker.js';
import { QueueFullError } from '../../core/queue-types.js';
import { RawKafkaClient } from './raw-client.js';
import { kafkajs, startKafka, type KafkaTestBroker } from './support.js';

const creatable = (name: string, numPartitions: number) => ({ name, numPartitions, replicationFactor: 1, assignments: [], configs: [] });

describe('kafka: topic and partition limits', function () {
  this.timeout(30000);
  let b: KafkaTestBroker;
  let c: RawKafkaClient;
  afterEach(async () => {
    c?.close();
    await b.close();
  });

  async function createTopics(...topics: ReturnType<typeof creatable>[]) {
    const r = await c.request(ApiKey.CreateTopics, 5, { topics, timeoutMs: 5000, validateOnly: false });
    return r.topics as Array<{ name: string; errorCode: number; errorMessage: string | null }>;
  }

  it('CreateTopics with 10,000 partitions is refused (INVALID_PARTITIONS) and the broker keeps serving', async () => {
    b = await startKafka();
    c = await RawKafkaClient.connect(b.port);
    const [t] = await createTopics(creatable('huge', 10000));
    assert.equal(t.errorCode, ErrorCode.INVALID_PARTITIONS);
    assert.match(t.errorMessage ?? '', /maxPartitionsPerTopic/);
    assert.equal(b.broker.getStream('huge'), undefined);
    const dry = await c.request(ApiKey.CreateTopics, 5, { topics: [creatable('huge', 10000)], timeoutMs: 5000, validateOnly: true });
    assert.equal(dry.topics[0].errorCode, ErrorCode.INVALID_PARTITIONS, 'validate_only checks the limits too');

    const producer = kafkajs(b.bootstrap).producer();
    await producer.connect();
    const [sent] = await producer.send({ topic: 'after', messages: [{ value: 'still serving' }] });
    assert.equal(sent.errorCode, 0);
    await producer.disconnect();
  });

  it('CreatePartitions past the per-topic or the broker-wide limit is refused', async () => {
    b = await startKafka({ limits: { maxPartitions: 50, maxPartitionsPerTopic: 40 } });
    c = await RawKafkaClient.connect(b.port);
    assert.equal((await createTopics(creatable('a', 30)))[0].errorCode, 0);
    const grow = async (name: string, count: number) => {
      const r = await c.request(ApiKey.CreatePartitions, 1, { topics: [{ name, count, assignments: null }], timeoutMs: 5000, validateOnly: false });
      return r.results[0] as { errorCode: number; errorMessage: string | null };
    };
    assert.equal((await grow('a', 21000)).errorCode, ErrorCode.INVALID_PARTITIONS);
    assert.equal((await grow('a', 40)).errorCode, 0);
    assert.equal(b.broker.getStream('a')!.partitions.length, 40);
    const [second] = await createTopics(creatable('b', 20));
    assert.equal(second.errorCode, ErrorCode.POLICY_VIOLATION, 'the broker-wide total');
    assert.match(second.errorMessage ?? '', /limits\.maxPartitions/);
    assert.equal((await createTopics(creatable('b', 10)))[0].errorCode, 0, 'exactly up to the total');
  });

  it('limits.maxPartitionsPerUser: each SASL user (kafkajs admin) has its own count for CreateTopics and CreatePartitions', async () => {
    b = await startKafka({
      auth: { users: { alice: 'pw', bob: 'pw' }, allowAnonymous: false, maxFailuresPerMinute: 0, rules: [{ user: '*', allow: ['publish', 'subscribe', 'admin'], address: '#' }] },
      limits: { maxPartitionsPerUser: 10 },
    });
    const admin = (user: string) => kafkajs(b.bootstrap, { sasl: { mechanism: 'plain', username: user, password: 'pw' } as never, retry: { retries: 0 } }).admin();
    const alice = admin('alice');
    const bob = admin('bob');
    await alice.connect();
    await bob.connect();
    assert.equal(await alice.createTopics({ topics: [{ topic: 'alice.a', numPartitions: 8 }] }), true);
    // kafkajs sends CreateTopics v0 (no error message): the code says which limit (the others are far away).
    const policy = (err: { type?: string; errors?: Array<{ type?: string }> }) => (err.type ?? err.errors?.[0]?.type) === 'POLICY_VIOLATION';
    await assert.rejects(alice.createTopics({ topics: [{ topic: 'alice.b', numPartitions: 3 }] }), policy, 'a ninth to eleventh partition of alice');
    await assert.rejects(alice.createTopics({ topics: [{ topic: 'alice.b', numPartitions: 3 }], validateOnly: true }), policy, 'validate_only checks it too');
    await assert.rejects(bob.createPartitions({ topicPartitions: [{ topic: 'alice.a', count: 11 }] }), policy, "partitions added to alice's topic count for alice");
    assert.equal(b.broker.getStream('alice.b'), undefined);
    await alice.createPartitions({ topicPartitions: [{ topic: 'alice.a', count: 10 }] });
    assert.equal(await bob.createTopics({ topics: [{ topic: 'bob.a', numPartitions: 10 }] }), true, 'bob has a count of his own');
    assert.equal(b.broker.getStream('alice.a')!.config.owner, 'alice');
    assert.equal(b.broker.partitionsOwnedBy('alice'), 10);
    // Deleting a topic frees its partitions.
    await alice.deleteTopics({ topics: ['alice.a'] });
    assert.equal(await alice.createTopics({ topics: [{ topic: 'alice.c', numPartitions: 10 }] }), true);
    await alice.disconnect();
    await bob.disconnect();
  });

  it('limits.maxPartitionsPerUser: anonymous clients share one count (auto-creation on Metadata too)', async () => {
    b = await startKafka({ limits: { maxPartitionsPerUser: 3 }, kafka: { defaultPartitions: 2 } });
    c = await RawKafkaClient.connect(b.port);
    assert.equal((await createTopics(creatable('anon.a', 2)))[0].errorCode, 0);
    const other = await RawKafkaClient.connect(b.port);
    const r = await other.request(ApiKey.Metadata, 4, { topics: [{ name: 'anon.auto' }], allowAutoTopicCreation: true });
    other.close();
    const t = (r.topics as Array<{ name: string; errorCode: number }>).find((x) => x.name === 'anon.auto')!;
    assert.equal(t.errorCode, ErrorCode.POLICY_VIOLATION, 'two more would make four');
    assert.equal(b.broker.getStream('anon.auto'), undefined);
  });

  it('auto-creation past limits.maxStreams answers POLICY_VIOLATION in Metadata', async () => {
    b = await startKafka({ limits: { maxStreams: 2 } });
    c = await RawKafkaClient.connect(b.port);
    assert.equal((await createTopics(creatable('one', 1), creatable('two', 1)))[1].errorCode, 0);
    const md = await c.request(ApiKey.Metadata, 4, { topics: [{ name: 'three' }], allowAutoTopicCreation: true });
    assert.equal(md.topics[0].errorCode, ErrorCode.POLICY_VIOLATION);
    assert.equal((await createTopics(creatable('three', 1)))[0].errorCode, ErrorCode.POLICY_VIOLATION);
    await b.broker.deleteStream('one');
    assert.equal((await createTopics(creatable('three', 1)))[0].errorCode, 0, 'a deleted topic frees its place');
  });

  it('the core refuses with StreamLimitError and QueueLimitError (a QueueFullError for the adapters)', async () => {
    b = await startKafka({ limits: { maxStreams: 1, maxQueues: 2 } });
    await b.broker.createStream('s1');
    await assert.rejects(b.broker.createStream('s2'), StreamLimitError);
    await b.broker.declareQueue('q1');
    await b.broker.declareQueue('q2');
    await b.broker.declareQueue('q1'); // existing: no new queue
    await assert.rejects(b.broker.declareQueue('q3'), (err: Error) => err instanceof QueueLimitError && err instanceof QueueFullError && /maxQueues/.test(err.message));
  });
});
