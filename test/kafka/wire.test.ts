/**
 * The wire, exactly: pipelined requests answered in order (a long-polled Fetch holds back the
 * responses behind it), ApiVersions for unknown versions, closing on unknown keys, oversize or
 * malformed frames, acks=0, produce validation and idempotent sequences, fetch errors, and a
 * fuzz of random bytes that must leave the broker serving.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { crc32, gzipSync } from 'node:zlib';
import { decodeRecords } from '../../core/stream/record-codec.js';
import { encodeBatch } from '../../core/stream/record-codec.js';
import { ApiKey } from '../../adapters/kafka/protocol/apis.js';
import { ErrorCode } from '../../adapters/kafka/protocol/errors.js';
import { RawKafkaClient } from './raw-client.js';
import { kafkajs, startKafka, type KafkaTestBroker } from './support.js';

const rec = (value: string, timestamp = Date.now()) => ({ timestamp, key: null, value: Buffer.from(value), headers: [] });

function produceBody(topic: string, partition: number, records: Buffer | null, acks = -1) {
  return { transactionalId: null, acks, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: partition, records }] }] };
}

/** A pre-0.11 message (magic 0 or 1) inside a message set entry. */
function legacyMessage(magic: 0 | 1, key: string | null, value: Buffer, attributes = 0, timestamp = 1_600_000_000_000, offset = 0): Buffer {
  const k = key === null ? null : Buffer.from(key);
  const body = Buffer.alloc(2 + (magic === 1 ? 8 : 0) + 4 + (k?.length ?? 0) + 4 + value.length);
  let at = body.writeInt8(magic, 0);
  at = body.writeInt8(attributes, at);
  if (magic === 1) at = body.writeBigInt64BE(BigInt(timestamp), at);
  at = body.writeInt32BE(k ? k.length : -1, at);
  if (k) at += k.copy(body, at);
  at = body.writeInt32BE(value.length, at);
  value.copy(body, at);
  const head = Buffer.alloc(16);
  head.writeBigInt64BE(BigInt(offset), 0);
  head.writeInt32BE(body.length + 4, 8);
  head.writeUInt32BE(crc32(body) >>> 0, 12);
  return Buffer.concat([head, body]);
}

function fetchBody(topic: string, partition: number, fetchOffset: number, maxWaitMs = 0, minBytes = 1) {
  return {
    replicaId: -1, maxWaitMs, minBytes, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic, partitions: [{ partition, fetchOffset, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1, logStartOffset: -1 }] }],
    forgottenTopicsData: [], rackId: '',
  };
}

describe('kafka: wire behaviour', function () {
  this.timeout(30000);
  let b: KafkaTestBroker;
  let c: RawKafkaClient;
  beforeEach(async () => {
    b = await startKafka();
    await b.broker.createStream('t', { partitions: 2 });
    c = await RawKafkaClient.connect(b.port);
  });
  afterEach(async () => {
    c.close();
    await b.close();
  });

  it('answers pipelined requests in order while a Fetch long-polls, and wakes the poll on produce', async () => {
    c.send(ApiKey.Fetch, 11, fetchBody('t', 0, 0, 10000));
    c.send(ApiKey.ApiVersions, 2, {});
    c.send(ApiKey.Metadata, 0, { topics: [] });
    const producer = await RawKafkaClient.connect(b.port);
    const produced = await producer.request(ApiKey.Produce, 7, produceBody('t', 0, encodeBatch([rec('x')])));
    assert.equal(produced.responses[0].partitionResponses[0].errorCode, ErrorCode.NONE);
    producer.close();
    const fetch = await c.response(ApiKey.Fetch, 11);
    assert.equal(fetch.correlationId, 1);
    const records = Buffer.concat(fetch.responses[0].partitions[0].records === null ? [] : [fetch.responses[0].partitions[0].records]);
    assert.equal(records.readInt32BE(57), 1, 'the batch just produced');
    const versions = await c.response(ApiKey.ApiVersions, 2);
    assert.equal(versions.correlationId, 2);
    const metadata = await c.response(ApiKey.Metadata, 0);
    assert.equal(metadata.correlationId, 3);
    assert.deepEqual(metadata.topics.map((t: { name: string }) => t.name), ['t']);
  });

  it('answers an ApiVersions version it does not know with error 35 in the v0 layout', async () => {
    const frame = c.encode(ApiKey.ApiVersions, 3, { clientSoftwareName: 'x', clientSoftwareVersion: '1' });
    frame.writeInt16BE(9, 6); // pretend v9
    c.sendRaw(frame);
    const r = await c.response(ApiKey.ApiVersions, 0);
    assert.equal(r.errorCode, ErrorCode.UNSUPPORTED_VERSION);
    assert.deepEqual(r.apiKeys.find((k: { apiKey: number }) => k.apiKey === 18), { apiKey: 18, minVersion: 0, maxVersion: 3 });
    const v3 = await c.request(ApiKey.ApiVersions, 3, { clientSoftwareName: 'x', clientSoftwareVersion: '1' });
    assert.equal(v3.errorCode, 0);
  });

  it('advertises the ranges clients need (FindCoordinator, InitProducerId and Produce from 0, Fetch 4..11+)', async () => {
    const r = await c.request(ApiKey.ApiVersions, 0, {});
    const range = (k: number) => { const e = r.apiKeys.find((x: { apiKey: number }) => x.apiKey === k); return [e.minVersion, e.maxVersion]; };
    assert.equal(range(ApiKey.FindCoordinator)[0], 0);
    assert.equal(range(ApiKey.InitProducerId)[0], 0);
    assert.ok(range(ApiKey.Produce)[0] === 0 && range(ApiKey.Produce)[1] >= 7, 'librdkafka 2.0.2 compresses only when Produce v0 is advertised');
    assert.ok(range(ApiKey.Fetch)[0] === 4 && range(ApiKey.Fetch)[1] >= 11);
    assert.equal(range(ApiKey.Metadata)[0], 0);
  });

  it('closes the connection on an unknown API key, an unadvertised version, a malformed body and an oversize frame', async () => {
    const unknown = c.encode(ApiKey.ApiVersions, 0, {});
    unknown.writeInt16BE(999, 4);
    c.sendRaw(unknown);
    assert.equal(await c.waitClosed(), true);
    for (const bytes of [
      (() => { const f = c.encode(ApiKey.Fetch, 4, fetchBody('t', 0, 0)); f.writeInt16BE(3, 6); return f; })(), // Fetch v3
      Buffer.from('0000000a00030001000000010000', 'hex'), // Metadata v1 cut short
      Buffer.from('7fffffff', 'hex'),
    ]) {
      const d = await RawKafkaClient.connect(b.port);
      d.sendRaw(bytes);
      assert.equal(await d.waitClosed(), true, bytes.toString('hex'));
    }
  });

  it('up-converts the message sets of Produce v0-2 (magic 0 and 1, plain and gzip-wrapped) into a record batch v2', async () => {
    const plain = Buffer.concat([legacyMessage(0, 'k0', Buffer.from('v0')), legacyMessage(1, null, Buffer.from('v1'))]);
    const r0 = await c.request(ApiKey.Produce, 0, produceBody('t', 0, plain));
    assert.deepEqual([r0.responses[0].partitionResponses[0].errorCode, r0.responses[0].partitionResponses[0].baseOffset], [0, 0]);
    const inner = Buffer.concat([legacyMessage(1, 'a', Buffer.from('x'), 0, 1_600_000_000_000, 0), legacyMessage(1, 'b', Buffer.from('y'), 0, 1_600_000_000_001, 1)]);
    const wrapped = legacyMessage(1, null, gzipSync(inner), 1, 1_600_000_000_001, 1);
    const r2 = await c.request(ApiKey.Produce, 2, produceBody('t', 0, wrapped));
    assert.deepEqual([r2.responses[0].partitionResponses[0].errorCode, r2.responses[0].partitionResponses[0].baseOffset], [0, 2]);
    const batches = await b.broker.getStream('t')!.partition(0)!.read(0, 1 << 20);
    assert.deepEqual(batches.map((batch) => [batch[16], batch.readInt16BE(21) & 7]), [[2, 0], [2, 1]], 'magic 2, the producer\'s codec kept');
    const records = batches.flatMap((batch) => decodeRecords(batch));
    assert.deepEqual(records.map((r) => [r.offset, r.key?.toString() ?? null, r.value!.toString()]), [[0, 'k0', 'v0'], [1, null, 'v1'], [2, 'a', 'x'], [3, 'b', 'y']]);
    assert.equal(records[3].timestamp, 1_600_000_000_001);
    const broken = Buffer.from(plain);
    broken[20] ^= 1;
    const bad = await c.request(ApiKey.Produce, 1, produceBody('t', 0, broken));
    assert.equal(bad.responses[0].partitionResponses[0].errorCode, ErrorCode.CORRUPT_MESSAGE);
  });

  it('sends no response to acks=0 and continues with the next request', async () => {
    c.send(ApiKey.Produce, 7, produceBody('t', 1, encodeBatch([rec('fire-and-forget')]), 0));
    const r = await c.request(ApiKey.Metadata, 1, { topics: null });
    assert.equal(r.correlationId, 2);
    assert.equal(b.broker.getStream('t')!.partition(1)!.highWatermark, 1);
  });

  it('validates produced batches: CRC, one batch per partition, magic, size, codec per version, unknown partitions', async () => {
    const good = encodeBatch([rec('a')]);
    const badCrc = Buffer.from(good);
    badCrc[good.length - 1] ^= 0xff;
    const oldMagic = Buffer.from(good);
    oldMagic[16] = 1;
    const zstd = Buffer.from(good);
    zstd.writeInt16BE(4, 21);
    const cases: Array<[Buffer | null, number, number, number]> = [
      [badCrc, 0, 7, ErrorCode.CORRUPT_MESSAGE],
      [Buffer.concat([good, good]), 0, 7, ErrorCode.INVALID_RECORD],
      [oldMagic, 0, 7, ErrorCode.INVALID_RECORD],
      [good.subarray(0, 40), 0, 7, ErrorCode.CORRUPT_MESSAGE],
      [null, 0, 7, ErrorCode.CORRUPT_MESSAGE],
      [zstd, 0, 6, ErrorCode.UNSUPPORTED_COMPRESSION_TYPE],
      [good, 5, 7, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
      [encodeBatch([rec('x'.repeat(1100000))]), 0, 7, ErrorCode.MESSAGE_TOO_LARGE],
    ];
    for (const [records, partition, version, code] of cases) {
      const r = await c.request(ApiKey.Produce, version, produceBody('t', partition, records));
      assert.equal(r.responses[0].partitionResponses[0].errorCode, code, `expected error ${code}`);
    }
    // An unknown topic is auto-created (one partition), so partition 3 of it is unknown (test/kafka/auto-create.test.ts).
    const unknownTopic = await c.request(ApiKey.Produce, 9, produceBody('nope', 3, good));
    assert.equal(unknownTopic.responses[0].partitionResponses[0].errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    assert.equal(b.broker.getStream('t')!.partition(0)!.highWatermark, 0);
  });

  it('drops idempotent duplicates (same offset back) and refuses sequence gaps', async () => {
    const pid = 4242n;
    const batch = (seq: number, v: string) => encodeBatch([rec(v), rec(v)], { producerId: pid, producerEpoch: 0, baseSequence: seq });
    const offsetOf = async (records: Buffer) => (await c.request(ApiKey.Produce, 7, produceBody('t', 0, records))).responses[0].partitionResponses[0];
    assert.equal((await offsetOf(batch(0, 'a'))).baseOffset, 0);
    assert.equal((await offsetOf(batch(2, 'b'))).baseOffset, 2);
    const dup = await offsetOf(batch(2, 'b'));
    assert.deepEqual([dup.errorCode, dup.baseOffset], [0, 2]);
    assert.equal((await offsetOf(batch(9, 'c'))).errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    const bumped = encodeBatch([rec('e')], { producerId: pid, producerEpoch: 1, baseSequence: 0 });
    assert.equal((await offsetOf(bumped)).errorCode, ErrorCode.NONE);
    assert.equal((await offsetOf(batch(4, 'old epoch'))).errorCode, ErrorCode.INVALID_PRODUCER_EPOCH);
    assert.equal(b.broker.getStream('t')!.partition(0)!.highWatermark, 5);
  });

  it('reports OFFSET_OUT_OF_RANGE past the high watermark and serves whole batches from the one holding the offset', async () => {
    await c.request(ApiKey.Produce, 7, produceBody('t', 0, encodeBatch([rec('a'), rec('b'), rec('c')])));
    const out = await c.request(ApiKey.Fetch, 4, fetchBody('t', 0, 7));
    assert.equal(out.responses[0].partitions[0].errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
    const mid = await c.request(ApiKey.Fetch, 4, fetchBody('t', 0, 1));
    const p = mid.responses[0].partitions[0];
    assert.deepEqual([p.errorCode, p.highWatermark, p.lastStableOffset, p.records.readBigInt64BE(0)], [0, 3, 3, 0n]);
    const atEnd = await c.request(ApiKey.Fetch, 4, fetchBody('t', 0, 3, 0));
    assert.equal(atEnd.responses[0].partitions[0].records.length, 0);
    const unknown = await c.request(ApiKey.Fetch, 11, fetchBody('nope', 0, 0, 5000));
    assert.equal(unknown.responses[0].partitions[0].errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });

  it('honours partition max bytes, response max bytes (the first batch always goes) and min bytes', async () => {
    for (const v of ['a', 'b', 'c']) await c.request(ApiKey.Produce, 7, produceBody('t', 0, encodeBatch([rec(v.repeat(100))])));
    await c.request(ApiKey.Produce, 7, produceBody('t', 1, encodeBatch([rec('p1'.repeat(50))])));
    const batchSize = encodeBatch([rec('a'.repeat(100))]).length;
    const fetch = async (partitionMaxBytes: number, maxBytes: number, minBytes = 1, maxWaitMs = 0) => {
      const body = fetchBody('t', 0, 0, maxWaitMs, minBytes);
      body.maxBytes = maxBytes;
      body.topics[0].partitions = [0, 1].map((partition) => ({ partition, fetchOffset: 0, partitionMaxBytes, currentLeaderEpoch: -1, logStartOffset: -1 }));
      const r = await c.request(ApiKey.Fetch, 11, body);
      return r.responses[0].partitions.map((p: { records: Buffer }) => p.records.length);
    };
    assert.deepEqual(await fetch(1 << 20, 1 << 20), [3 * batchSize, encodeBatch([rec('p1'.repeat(50))]).length]);
    assert.deepEqual(await fetch(batchSize + 10, 1 << 20), [batchSize, encodeBatch([rec('p1'.repeat(50))]).length], 'partition max bytes');
    assert.deepEqual(await fetch(10, 1 << 20), [batchSize, 0], 'a batch larger than the partition limit still goes first');
    assert.deepEqual(await fetch(1 << 20, 2 * batchSize + 5), [2 * batchSize, 0], 'response max bytes');
    assert.deepEqual(await fetch(1 << 20, 1 << 20, 1 << 20, 200), [3 * batchSize, encodeBatch([rec('p1'.repeat(50))]).length], 'min bytes not reached: what there is after max wait');
  });

  it('fetches by topic id from v13 (UNKNOWN_TOPIC_ID for an id it does not know)', async () => {
    await c.request(ApiKey.Produce, 9, produceBody('t', 0, encodeBatch([rec('by-id')])));
    const md = await c.request(ApiKey.Metadata, 10, { topics: [{ name: 't', topicId: Buffer.alloc(16) }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
    const topicId = md.topics[0].topicId as Buffer;
    const body = (id: Buffer) => ({ ...fetchBody('t', 0, 0), topics: [{ topicId: id, partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1, logStartOffset: -1, lastFetchedEpoch: -1 }] }] });
    const r = await c.request(ApiKey.Fetch, 16, body(topicId));
    assert.deepEqual(r.responses[0].topicId, topicId);
    assert.equal(r.responses[0].partitions[0].records.readInt32BE(57), 1);
    const unknown = await c.request(ApiKey.Fetch, 13, body(Buffer.alloc(16, 9)));
    assert.equal(unknown.responses[0].partitions[0].errorCode, ErrorCode.UNKNOWN_TOPIC_ID);
  });

  it('lists offsets: earliest, latest and by timestamp (exact record)', async () => {
    const t0 = 1_700_000_000_000;
    await c.request(ApiKey.Produce, 7, produceBody('t', 0, encodeBatch([rec('a', t0), rec('b', t0 + 10), rec('c', t0 + 20)])));
    await c.request(ApiKey.Produce, 7, produceBody('t', 0, encodeBatch([rec('d', t0 + 30)])));
    const ask = async (timestamp: number, version = 3) => {
      const r = await c.request(ApiKey.ListOffsets, version, { replicaId: -1, isolationLevel: 0, topics: [{ name: 't', partitions: [{ partitionIndex: 0, timestamp, currentLeaderEpoch: -1 }] }] });
      const p = r.topics[0].partitions[0];
      return [p.errorCode, p.offset, p.timestamp];
    };
    assert.deepEqual(await ask(-2), [0, 0, -1]);
    assert.deepEqual(await ask(-1, 1), [0, 4, -1]);
    assert.deepEqual(await ask(t0 + 15), [0, 2, t0 + 20]);
    assert.deepEqual(await ask(t0 + 30, 6), [0, 3, t0 + 30]);
    assert.deepEqual(await ask(t0 + 99), [0, -1, -1]);
  });

  it('survives random bytes and keeps serving real clients', async () => {
    for (let i = 0; i < 200; i++) {
      const d = await RawKafkaClient.connect(b.port);
      const body = randomBytes(1 + (i % 64));
      const frame = Buffer.alloc(4 + 8 + body.length);
      frame.writeInt32BE(8 + body.length, 0);
      // A real header (valid key and version) now and then, so bodies reach the decoders.
      frame.writeInt16BE(i % 3 === 0 ? [0, 1, 3, 8, 9, 11, 14, 19, 32, 36][i % 10] : (i * 7919) % 70, 4);
      frame.writeInt16BE(i % 3 === 0 ? [3, 4, 1, 2, 1, 2, 1, 0, 0, 0][i % 10] : i % 13, 6);
      frame.writeInt32BE(i, 8);
      body.copy(frame, 12);
      d.sendRaw(i % 5 === 0 ? randomBytes(50) : frame);
      await new Promise((r) => setTimeout(r, 2));
      d.close();
    }
    const k = kafkajs(b.bootstrap);
    const producer = k.producer();
    await producer.connect();
    const [res] = await producer.send({ topic: 't', messages: [{ value: 'still alive', partition: 0 }] });
    assert.equal(res.errorCode, 0);
    await producer.disconnect();
  });
});
