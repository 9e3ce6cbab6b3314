/**
 * Records, committed offsets and idempotent-producer state across broker restarts (FileStore in a
 * temporary directory), and the idempotent kafkajs producer.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStore } from '../../core/storage/file-store.js';
import { encodeBatch } from '../../core/stream/record-codec.js';
import { ApiKey } from '../../adapters/kafka/protocol/apis.js';
import { RawKafkaClient } from './raw-client.js';
import { CompressionTypes, kafkajs, startKafka, type KafkaTestBroker } from './support.js';
import { eventually } from '../support/index.js';

describe('kafka: durability across restarts', function () {
  this.timeout(60000);
  let dir: string;
  let b: KafkaTestBroker | undefined;
  const open = () => startKafka({ store: new FileStore({ dir, fsync: 'always' }) });
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'junction-kafka-')); });
  afterEach(async () => {
    await b?.close();
    b = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps records (compressed and not), topic configs and committed offsets through a restart', async () => {
    b = await open();
    const k = kafkajs(b.bootstrap);
    const admin = k.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'durable', numPartitions: 2, configEntries: [{ name: 'retention.ms', value: '86400000' }] }] });
    await admin.disconnect();
    const producer = k.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await producer.send({ topic: 'durable', acks: -1, messages: [{ key: 'a', value: 'plain', partition: 0 }] });
    await producer.send({ topic: 'durable', acks: -1, compression: CompressionTypes.ZSTD, messages: [{ key: 'b', value: 'zstd', partition: 1 }, { key: 'c', value: 'zstd-2', partition: 1 }] });
    await producer.disconnect();
    const c1 = k.consumer({ groupId: 'dur', maxWaitTimeInMs: 100 });
    await c1.connect();
    await c1.subscribe({ topic: 'durable', fromBeginning: true });
    let first = 0;
    await c1.run({ eachMessage: async () => { first++; } });
    await eventually(() => first === 3, { timeout: 20000, what: 'three records' });
    await c1.disconnect();
    await b.close();

    b = await open();
    const k2 = kafkajs(b.bootstrap);
    assert.equal(b.broker.getStream('durable')!.config.retentionMs, 86400000);
    const admin2 = k2.admin();
    await admin2.connect();
    const offsets = await admin2.fetchTopicOffsets('durable');
    assert.deepEqual(offsets.map((o) => [o.partition, o.high]).sort(), [[0, '1'], [1, '2']]);
    const committed = await admin2.fetchOffsets({ groupId: 'dur', topics: ['durable'] });
    assert.deepEqual(committed[0].partitions.map((p) => [p.partition, p.offset]).sort(), [[0, '1'], [1, '2']]);
    await admin2.disconnect();
    const reader = k2.consumer({ groupId: 'fresh', maxWaitTimeInMs: 100 });
    const values: string[] = [];
    await reader.connect();
    await reader.subscribe({ topic: 'durable', fromBeginning: true });
    await reader.run({ eachMessage: async ({ message }) => { values.push(`${message.key}=${message.value}`); } });
    await eventually(() => values.length === 3, { timeout: 20000, what: 'records after restart' });
    await reader.disconnect();
    assert.deepEqual(values.sort(), ['a=plain', 'b=zstd', 'c=zstd-2']);
  });

  it('recognises an idempotent retry sent after a restart as a duplicate', async () => {
    b = await open();
    await b.broker.createStream('idem', { partitions: 1 });
    const batch = () => encodeBatch([{ timestamp: Date.now(), key: null, value: Buffer.from('once'), headers: [] }], { producerId: 77n, producerEpoch: 0, baseSequence: 0 });
    const produce = async (port: number) => {
      const c = await RawKafkaClient.connect(port);
      const r = await c.request(ApiKey.Produce, 7, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: 'idem', partitionData: [{ index: 0, records: batch() }] }] });
      c.close();
      return r.responses[0].partitionResponses[0];
    };
    assert.deepEqual([(await produce(b.port)).baseOffset], [0]);
    await b.close();
    b = await open();
    const retry = await produce(b.port);
    assert.deepEqual([retry.errorCode, retry.baseOffset], [0, 0]);
    assert.equal(b.broker.getStream('idem')!.partition(0)!.highWatermark, 1);
  });
});

describe('kafka: idempotent kafkajs producer', function () {
  this.timeout(60000);
  it('gets a producer id and writes sequenced batches', async () => {
    const b = await startKafka();
    try {
      const producer = kafkajs(b.bootstrap).producer({ idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      for (let i = 0; i < 5; i++) await producer.send({ topic: 'idem-js', messages: [{ value: `m${i}` }, { value: `n${i}` }] });
      await producer.disconnect();
      const batches = await b.broker.getStream('idem-js')!.partition(0)!.read(0, 1 << 20);
      assert.equal(batches.length, 5);
      const pids = new Set(batches.map((x) => x.readBigInt64BE(43)));
      assert.equal(pids.size, 1);
      assert.ok([...pids][0] > 0n);
      assert.deepEqual(batches.map((x) => x.readInt32BE(53)), [0, 2, 4, 6, 8], 'base sequences');
    } finally {
      await b.close();
    }
  });
});
