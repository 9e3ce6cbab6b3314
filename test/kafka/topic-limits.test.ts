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
