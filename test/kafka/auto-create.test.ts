/**
 * When a Kafka topic exists: the rule of Kafka's auto.create.topics.enable (`kafka.autoCreateTopics`),
 * the same whoever asks: an unknown topic is created by a Produce and by a Metadata request that
 * allows it; a Metadata request that does not allow it, and a Fetch, never create one; with the
 * setting off nothing but CreateTopics creates. Streams declared in `streams.declare` exist from
 * the start, idempotently across restarts.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiKey } from '../../adapters/kafka/protocol/apis.js';
import { ErrorCode } from '../../adapters/kafka/protocol/errors.js';
import { encodeBatch } from '../../core/stream/record-codec.js';
import { ConfigError, loadConfig } from '../../index.js';
import { removeTempDir, requireDebianClient, startBroker, tempDir } from '../support/index.js';
import { RawKafkaClient } from './raw-client.js';
import { run, startKafka, type KafkaTestBroker } from './support.js';

const batch = () => encodeBatch([{ timestamp: Date.now(), key: null, value: Buffer.from('v'), headers: [] }]);
const produce = (topic: string, partition = 0) => ({ transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: partition, records: batch() }] }] });
const fetch = (topic: string) => ({
  replicaId: -1, maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
  topics: [{ topic, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] }],
  forgottenTopicsData: [], rackId: '',
});

describe('kafka: topic auto-creation rule', function () {
  this.timeout(60000);
  let b: KafkaTestBroker;
  let c: RawKafkaClient;
  afterEach(async () => {
    c?.close();
    await b?.close();
  });

  it('kafka.autoCreateTopics on: Produce and Metadata that allows it create; Metadata that does not, and Fetch, do not', async () => {
    b = await startKafka({ kafka: { defaultPartitions: 2 } });
    c = await RawKafkaClient.connect(b.port);
    const p = await c.request(ApiKey.Produce, 9, produce('by-produce'));
    assert.equal(p.responses[0].partitionResponses[0].errorCode, ErrorCode.NONE);
    assert.equal(b.broker.getStream('by-produce')?.partitions.length, 2);
    assert.equal(b.broker.getStream('by-produce')!.partition(0)!.highWatermark, 1, 'the batch that created it is stored');

    const md = await c.request(ApiKey.Metadata, 9, { topics: [{ name: 'by-metadata' }], allowAutoTopicCreation: true, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
    assert.equal(md.topics[0].errorCode, ErrorCode.NONE);
    assert.ok(b.broker.getStream('by-metadata'));

    const no = await c.request(ApiKey.Metadata, 9, { topics: [{ name: 'consumer-asks' }], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
    assert.equal(no.topics[0].errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    const f = await c.request(ApiKey.Fetch, 11, fetch('fetched'));
    assert.equal(f.responses[0].partitions[0].errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    assert.deepEqual([b.broker.getStream('consumer-asks'), b.broker.getStream('fetched')], [undefined, undefined]);
  });

  it('kafka.autoCreateTopics off: neither Produce nor Metadata creates; CreateTopics does', async () => {
    b = await startKafka({ kafka: { autoCreateTopics: false } });
    c = await RawKafkaClient.connect(b.port);
    const p = await c.request(ApiKey.Produce, 9, produce('nope'));
    assert.equal(p.responses[0].partitionResponses[0].errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    const md = await c.request(ApiKey.Metadata, 1, { topics: [{ name: 'nope' }] });
    assert.equal(md.topics[0].errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    assert.equal(b.broker.getStream('nope'), undefined);
    const created = await c.request(ApiKey.CreateTopics, 4, { topics: [{ name: 'nope', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
    assert.equal(created.topics[0].errorCode, ErrorCode.NONE);
    assert.ok(b.broker.getStream('nope'));
  });

  describe('the same rule whatever the client (kcat, librdkafka)', () => {
    before(requireDebianClient('kcat', 'kcat'));

    it('kcat -P creates the topic; kcat -C on an unknown topic does not', async () => {
      b = await startKafka();
      const consume = await run('kcat', ['-b', b.bootstrap, '-C', '-t', 'not-yet', '-o', 'beginning', '-e', '-q', '-m', '10']);
      assert.notEqual(consume.code, 0);
      assert.match(consume.stderr, /Unknown topic or partition/i);
      assert.equal(b.broker.getStream('not-yet'), undefined);
      const producer = await run('kcat', ['-b', b.bootstrap, '-P', '-t', 'not-yet'], 'hello\n');
      assert.equal(producer.code, 0, producer.stderr);
      const again = await run('kcat', ['-b', b.bootstrap, '-C', '-t', 'not-yet', '-o', 'beginning', '-e', '-q', '-f', '%s\\n']);
      assert.equal(again.stdout, 'hello\n');
    });
  });
});

describe('streams.declare', function () {
  this.timeout(60000);
  let dir: string;
  before(() => (dir = tempDir('junction-declare-')));
  after(() => removeTempDir(dir));

  it('creates declared streams at start and updates them idempotently on later starts', async () => {
    const dataDir = join(dir, 'data');
    const start = (declare: unknown[]) => startBroker({ dataDir, streams: { declare } as never, ports: { mqtt: 'auto', amqp: 0, stomp: 0, xmpp: 0, kafka: 0, http: 0 } });
    let b = await start([{ name: 'sensors', patterns: ['sensors.#'], partitions: 2 }]);
    assert.deepEqual([b.broker.getStream('sensors')!.partitions.length, b.broker.getStream('sensors')!.config.patterns], [2, ['sensors.#']]);
    await b.broker.publish({ topic: 'sensors.a', payload: Buffer.from('1'), headers: {}, timestamp: Date.now(), durable: true, source: 'test' });
    await b.close();

    b = await start([{ name: 'sensors', patterns: ['sensors.#', 'meters.#'], partitions: 3 }, { name: 'meters' }]);
    const s = b.broker.getStream('sensors')!;
    assert.deepEqual([s.partitions.length, s.config.patterns], [3, ['sensors.#', 'meters.#']]);
    assert.equal(s.partitions.reduce((n, p) => n + p.highWatermark, 0), 1, 'records kept');
    assert.ok(b.broker.getStream('meters'));
    await b.close();

    b = await start([{ name: 'sensors', patterns: ['sensors.#'], partitions: 1 }]);
    assert.deepEqual([b.broker.getStream('sensors')!.partitions.length, b.broker.getStream('sensors')!.config.patterns], [3, ['sensors.#', 'meters.#']],
      'a declaration never removes partitions or patterns');
    await b.close();
  });

  it('accepts the shorthand `streams: [ ... ]` in a file, and refuses a bad pattern naming the entry', async () => {
    const file = join(dir, 'short.yaml');
    writeFileSync(file, 'streams:\n  - { name: sensors, patterns: ["sensors.#"], partitions: 3 }\n');
    const c = loadConfig({ file });
    assert.deepEqual(c.streams.declare, [{ name: 'sensors', patterns: ['sensors.#'], partitions: 3 }]);
    assert.equal(c.streams.defaultPartitions, 1, 'the other streams keys keep their defaults');
    writeFileSync(file, 'streams:\n  - { name: sensors, partitions: 0 }\n');
    assert.throws(() => loadConfig({ file }), (e: Error) => e instanceof ConfigError && /streams\.declare\.0\.partitions|streams\.declare\[0\]\.partitions/.test(e.message));
    await assert.rejects(startBroker({ streams: { declare: [{ name: 'bad', patterns: ['a.b#'] }] } as never }),
      (e: Error) => e instanceof ConfigError && e.message === 'streams.declare[0] (bad): wildcard must be a whole word in "a.b#"');
  });
});
