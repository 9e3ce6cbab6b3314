/**
 * A client that pipelines requests and never reads the responses must not make the broker buffer
 * them (one request in flight per connection, as Kafka): memory stays bounded while thousands of
 * Metadata requests for a 10,000-partition topic, or Fetches of a full megabyte, are queued on one
 * socket, and a canary kafkajs producer and consumer keep working meanwhile.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { FileStore } from '../../core/storage/file-store.js';
import { encodeBatch } from '../../core/stream/record-codec.js';
import { ApiKey } from '../../adapters/kafka/protocol/apis.js';
import { RawKafkaClient } from './raw-client.js';
import { HOST, kafkajs, startKafka, type KafkaTestBroker } from './support.js';
import { removeTempDir, tempDir } from '../support/broker.js';

const MB = 1024 * 1024;
/** Generous: without the bound the broker needs gigabytes (or dies) for these inputs. */
const BOUND = 200 * MB;

/** A socket that writes and never reads (its receive buffer fills, then the broker's send buffer). */
function silentSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, HOST, () => resolve(s));
    s.once('error', reject);
    s.pause();
  });
}

/** Samples this process's memory (the broker runs in it) while `during` runs; returns the peak growth. */
async function peakGrowth(during: () => Promise<void>): Promise<{ rss: number; heap: number }> {
  const base = process.memoryUsage();
  let rss = 0;
  let heap = 0;
  const sample = () => {
    const m = process.memoryUsage();
    rss = Math.max(rss, m.rss - base.rss);
    heap = Math.max(heap, m.heapUsed - base.heapUsed);
  };
  const timer = setInterval(sample, 20);
  try {
    await during();
  } finally {
    clearInterval(timer);
    sample();
  }
  return { rss, heap };
}

/** A kafkajs producer and consumer round trip on their own topic. */
async function canary(b: KafkaTestBroker, topic: string): Promise<void> {
  const k = kafkajs(b.bootstrap);
  const producer = k.producer();
  const consumer = k.consumer({ groupId: `${topic}-group` });
  try {
    await producer.connect();
    await producer.send({ topic, messages: [{ value: 'canary' }] });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const got = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('canary consumer got nothing')), 20000);
      void consumer.run({ eachMessage: async ({ message }) => { clearTimeout(t); resolve(message.value!.toString()); } });
    });
    assert.equal(got, 'canary');
  } finally {
    await consumer.disconnect();
    await producer.disconnect();
  }
}

/** Lets the broker work through what it will take of the pipelined input. */
const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('kafka: pipelined requests from a client that does not read', function () {
  this.timeout(120000);
  let b: KafkaTestBroker;
  let dir: string | null;
  let sockets: Socket[];

  beforeEach(() => {
    dir = null;
    sockets = [];
  });

  afterEach(async () => {
    for (const s of sockets) s.destroy();
    await b.close();
    if (dir) removeTempDir(dir);
  });

  it('3,000 Metadata requests for a 10,000-partition topic: memory bounded, canary served', async () => {
    b = await startKafka({ limits: { maxPartitions: 20000, maxPartitionsPerTopic: 10000 } });
    await b.broker.createStream('wide', { partitions: 10000 });
    const encoder = await RawKafkaClient.connect(b.port);
    const one = encoder.encode(ApiKey.Metadata, 1, { topics: [{ name: 'wide' }] });
    encoder.close();
    const s = await silentSocket(b.port);
    sockets.push(s);
    const growth = await peakGrowth(async () => {
      s.write(Buffer.concat(Array.from({ length: 3000 }, () => one)));
      await settle(1500);
      await canary(b, 'canary-metadata');
      await settle(500);
    });
    assert.ok(growth.rss < BOUND, `rss grew by ${Math.round(growth.rss / MB)} MB`);
    assert.ok(growth.heap < BOUND, `heap grew by ${Math.round(growth.heap / MB)} MB`);
    assert.equal(s.destroyed, false, 'the silent client is paused, not dropped');
  });

  it('3,000 Fetches of a megabyte each: memory bounded, canary served', async () => {
    dir = tempDir('junction-kafka-bp-');
    b = await startKafka({ store: new FileStore({ dir, fsync: 'never' }) }); // fetches read from files
    await b.broker.createStream('big', { partitions: 1 });
    const producer = await RawKafkaClient.connect(b.port);
    const value = Buffer.alloc(64 * 1024, 7);
    for (let i = 0; i < 20; i++) {
      const records = encodeBatch([{ timestamp: Date.now(), key: null, value, headers: [] }]);
      const r = await producer.request(ApiKey.Produce, 7, {
        transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: 'big', partitionData: [{ index: 0, records }] }],
      });
      assert.equal(r.responses[0].partitionResponses[0].errorCode, 0);
    }
    const one = producer.encode(ApiKey.Fetch, 11, {
      replicaId: -1, maxWaitMs: 0, minBytes: 1, maxBytes: MB, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic: 'big', partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: MB, currentLeaderEpoch: -1, logStartOffset: -1 }] }],
      forgottenTopicsData: [], rackId: '',
    });
    producer.close();
    const s = await silentSocket(b.port);
    sockets.push(s);
    const growth = await peakGrowth(async () => {
      s.write(Buffer.concat(Array.from({ length: 3000 }, () => one)));
      await settle(1500);
      await canary(b, 'canary-fetch');
      await settle(500);
    });
    assert.ok(growth.rss < BOUND, `rss grew by ${Math.round(growth.rss / MB)} MB`);
    assert.ok(growth.heap < BOUND, `heap grew by ${Math.round(growth.heap / MB)} MB`);
    assert.equal(s.destroyed, false, 'the silent client is paused, not dropped');
  });
});
