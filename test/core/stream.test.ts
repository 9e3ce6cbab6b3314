import assert from 'node:assert/strict';
import { InvalidBatchError, readBatchHeader } from '../../core/stream/batch-header.js';
import { AppendError } from '../../core/stream/partition.js';
import { decodeRecords, encodeBatch } from '../../core/stream/record-codec.js';
import { StreamCursor } from '../../core/stream/stream-cursor.js';
import { MemoryStore } from '../../core/storage/memory-store.js';
import type { Delivery } from '../../core/queue-types.js';
import { bodies, msg, openBroker, tick } from './helpers.js';

const rec = (value: string, timestamp = Date.now(), key: string | null = null) => ({
  timestamp, key: key === null ? null : Buffer.from(key), value: Buffer.from(value), headers: [],
});

describe('core/stream', () => {
  it('assigns dense offsets per partition to appended batches', async () => {
    const broker = await openBroker();
    await broker.createStream('orders', { partitions: 2 });
    const r1 = broker.appendBatch('orders', 0, encodeBatch([rec('a'), rec('b'), rec('c')]));
    const r2 = broker.appendBatch('orders', 0, encodeBatch([rec('d')]));
    const r3 = broker.appendBatch('orders', 1, encodeBatch([rec('x')]));
    await Promise.all([r1.stored, r2.stored, r3.stored]);
    assert.deepEqual([r1.baseOffset, r2.baseOffset, r3.baseOffset], [0, 3, 0]);
    const p0 = broker.getStream('orders')!.partition(0)!;
    assert.equal(p0.highWatermark, 4);
    const batches = await p0.read(3, 1 << 20);
    assert.equal(readBatchHeader(batches[0]).baseOffset, 3);
    assert.deepEqual(decodeRecords(batches[0]).map((r) => r.value!.toString()), ['d']);
    await broker.close();
  });

  it('refuses a corrupted batch', async () => {
    const broker = await openBroker();
    await broker.createStream('t');
    const batch = encodeBatch([rec('a')]);
    batch[batch.length - 1] ^= 0xff;
    assert.throws(() => broker.appendBatch('t', 0, batch), (e: unknown) => e instanceof AppendError && e.code === 'corrupt');
    assert.throws(() => readBatchHeader(Buffer.alloc(10)), InvalidBatchError);
    await broker.close();
  });

  it('drops duplicate idempotent batches and refuses out-of-order sequences', async () => {
    const broker = await openBroker();
    await broker.createStream('idem');
    const pid = await broker.allocateProducerId();
    const b0 = () => encodeBatch([rec('a'), rec('b')], { producerId: pid, producerEpoch: 0, baseSequence: 0 });
    const first = broker.appendBatch('idem', 0, b0());
    const retry = broker.appendBatch('idem', 0, b0());
    assert.equal(retry.duplicate, true);
    assert.equal(retry.baseOffset, first.baseOffset);
    assert.throws(() => broker.appendBatch('idem', 0, encodeBatch([rec('z')], { producerId: pid, producerEpoch: 0, baseSequence: 5 })),
      (e: unknown) => e instanceof AppendError && e.code === 'out-of-order-sequence');
    const next = broker.appendBatch('idem', 0, encodeBatch([rec('c')], { producerId: pid, producerEpoch: 0, baseSequence: 2 }));
    assert.equal(next.baseOffset, 2);
    await broker.close();
  });

  it('reads by timestamp and applies retention by size', async () => {
    const broker = await openBroker();
    await broker.createStream('ts', { retentionBytes: 1, retentionMs: -1 });
    const base = Date.now() - 10_000;
    for (let i = 0; i < 5; i++) await broker.appendBatch('ts', 0, encodeBatch([rec(`v${i}`, base + i * 1000)])).stored;
    const p = broker.getStream('ts')!.partition(0)!;
    assert.equal(await p.offsetForTimestamp(base + 2500), 3);
    assert.equal(await p.offsetForTimestamp(base + 99_999), null);
    await tick(120); // housekeeping applies retention
    assert.ok(p.logStartOffset > 0, 'retention moved the log start');
    assert.equal(p.highWatermark, 5);
    await broker.close();
  });

  it('receives publishes from other protocols on its topic and extra patterns, keyed by original topic', async () => {
    const broker = await openBroker();
    await broker.createStream('sensors', { patterns: ['sensors.#'] });
    await broker.publish(msg('sensors', 'own', { contentType: 'text/plain', headers: { unit: 'C' } }));
    await broker.publish(msg('sensors.room1.temp', '21.5'));
    const cursor = await StreamCursor.open(broker.getStream('sensors')!, 'first');
    const got = await cursor.poll(10);
    assert.deepEqual(got.map((m) => m.message.payload.toString()), ['own', '21.5']);
    assert.equal(got[0].message.contentType, 'text/plain');
    assert.equal(got[0].message.headers.unit, 'C');
    assert.equal(got[1].message.key?.toString(), 'sensors.room1.temp');
    await broker.close();
  });

  it('routes appended batches to other subscribers of the topic, decoded', async () => {
    const broker = await openBroker();
    await broker.createStream('events');
    const q = await broker.declareQueue('listener', { autoDelete: true });
    await broker.bindQueue('listener', 'events');
    const got: Delivery[] = [];
    q.consume({ prefetch: 0, autoAck: true, creditMode: false }, (d) => got.push(d));
    await broker.appendBatch('events', 0, encodeBatch([rec('k1'), rec('k2', Date.now(), 'key')])).stored;
    assert.deepEqual(bodies(got), ['k1', 'k2']);
    assert.equal(got[1].message.key?.toString(), 'key');
    await broker.close();
  });

  it('wakes a long-polling reader when data arrives', async () => {
    const broker = await openBroker();
    const stream = await broker.createStream('lp');
    const cursor = await StreamCursor.open(stream, 'next');
    const polled = cursor.poll(10, 5000);
    await broker.publish(msg('lp', 'late'));
    const got = await polled;
    assert.deepEqual(got.map((m) => m.message.payload.toString()), ['late']);
    await broker.close();
  });

  it('keeps streams, offsets and committed group offsets across a restart', async () => {
    const store = new MemoryStore();
    let broker = await openBroker(store);
    await broker.createStream('keep', { partitions: 3, retentionMs: 1000 });
    await broker.appendBatch('keep', 2, encodeBatch([rec('a'), rec('b')])).stored;
    await broker.offsets.commit('g1', [{ stream: 'keep', partition: 2, offset: 1, metadata: 'm' }]);
    await broker.close();
    broker = await openBroker(store);
    const s = broker.getStream('keep')!;
    assert.equal(s.partitions.length, 3);
    assert.equal(s.config.retentionMs, 1000);
    assert.equal(s.partition(2)!.highWatermark, 2);
    assert.equal(broker.offsets.fetch('g1', 'keep', 2)?.offset, 1);
    assert.equal(broker.offsets.fetch('g1', 'keep', 2)?.metadata, 'm');
    assert.deepEqual(broker.offsets.groups(), ['g1']);
    await broker.offsets.deleteGroup('g1');
    assert.equal(broker.offsets.fetch('g1', 'keep', 2), undefined);
    await broker.close();
  });
});

describe('core/stream: creation', () => {
  it('refuses a second concurrent creation of the same stream instead of replacing the first', async () => {
    const broker = await openBroker();
    const results = await Promise.allSettled([broker.createStream('race', { partitions: 2 }), broker.createStream('race', { partitions: 5 })]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    assert.match(String((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason), /already exists/);
    assert.equal(broker.getStream('race')!.partitions.length, 2);
    await broker.close();
  });
});
