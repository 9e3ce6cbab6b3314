/**
 * Deep queues past the memory budget (queues.memoryBytes, core/queue-memory.ts): bodies stay on
 * disk and are read back in delivery order; priorities, selectors, browsing, TTL, dead letters and
 * bounds work on paged messages; a restart recovers the index without the bodies. The broker's own
 * counters (queueMemory) are asserted, not the process's memory.
 */
import assert from 'node:assert/strict';
import type { Broker } from '../../core/broker.js';
import type { Delivery } from '../../core/queue-types.js';
import type { Queue } from '../../core/queue.js';
import { HELD_OVERHEAD } from '../../core/queue-memory.js';
import { store as fileStore, tempDir } from '../storage/helpers.js';
import { msg, openBroker, tick } from './helpers.js';
import { eventually } from '../support/index.js';
import { liveBytes } from '../support/memory.js';

/** Room for about 7 messages of 100 bytes (messageSize counts 64 bytes and the topic on top; the budget HELD_OVERHEAD more per held body). */
const BUDGET = 4000;
const PAYLOAD = 'x'.repeat(90);

const body = (d: Delivery) => d.message.payload.toString().slice(0, d.message.payload.length - PAYLOAD.length);
const PRIORITIES = [1, 4, 9];

describe('core/queue paging: deep queues past queues.memoryBytes', () => {
  let t: ReturnType<typeof tempDir>;
  let broker: Broker | undefined;
  const open = async () => (broker = await openBroker(fileStore(t.dir), { queueMemoryBytes: BUDGET }));
  beforeEach(() => (t = tempDir('paging')));
  afterEach(async () => {
    await broker?.close().catch(() => undefined);
    broker = undefined;
    t.remove();
  });

  /** Sends `n` durable messages `m<i>` with priorities 1, 4, 9 in turn (or `priorityOf`). */
  async function fill(q: string, n: number, extra: (i: number) => object = (i) => ({ priority: PRIORITIES[i % 3] })): Promise<void> {
    const sends: Promise<void>[] = [];
    for (let i = 0; i < n; i++) sends.push(broker!.sendToQueue(q, msg(q, `m${i}${PAYLOAD}`, { durable: true, ...extra(i) })));
    await Promise.all(sends);
  }

  /** The order a queue must deliver fill()'s messages in: priority 9, 4, 1, FIFO within each. */
  const expectedOrder = (n: number) => [9, 4, 1].flatMap((p) => Array.from({ length: n }, (_, i) => i).filter((i) => PRIORITIES[i % 3] === p).map((i) => `m${i}`));

  async function drainAll(q: Queue, n: number, check?: () => void): Promise<Delivery[]> {
    const got: Delivery[] = [];
    const c = q.consume({ prefetch: 64, autoAck: false, creditMode: false }, (d, consumer) => {
      if (got.length >= n) return; // left unacknowledged: back to the head of the queue when the consumer closes
      got.push(d);
      check?.();
      void consumer.ack(d.tag);
    });
    await eventually(() => got.length >= n, { what: `${n} deliveries (got ${got.length})` });
    c.close();
    return got;
  }

  it('keeps at most the budget of bodies in memory and drains in priority order, reading ahead of the consumer', async () => {
    await open();
    const q = await broker!.declareQueue('deep', { durable: true });
    const n = 3000;
    await fill('deep', n);
    const mem = broker!.queueMemory;
    assert.ok(mem.heldBytes <= BUDGET, `bodies in memory ${mem.heldBytes} <= ${BUDGET}`);
    assert.ok(mem.pagedMessages >= n - 25, `paged: ${mem.pagedMessages}`);
    assert.equal(q.messageCount, n);
    let peak = 0;
    const got = await drainAll(q, n, () => (peak = Math.max(peak, mem.heldBytes)));
    assert.deepEqual(got.map(body), expectedOrder(n));
    // Read-ahead brings at most one batch (512 messages, 1 MiB) on top of the budget (each counting its size and HELD_OVERHEAD).
    assert.ok(peak <= BUDGET + 512 * (175 + HELD_OVERHEAD), `peak bodies in memory while draining: ${peak}`);
    await eventually(() => mem.heldBytes === 0 && mem.pagedMessages === 0, { what: 'counters back to 0' });
    assert.ok(mem.pagedIn >= n - 25);
  });

  it('recovers the index without bodies after a restart, browses paged messages, then drains them in order', async () => {
    await open();
    await broker!.declareQueue('deep', { durable: true });
    const n = 1000;
    await fill('deep', n);
    await broker!.close();
    await open();
    const mem = broker!.queueMemory;
    const q = broker!.getQueue('deep')!;
    assert.equal(q.messageCount, n);
    assert.equal(mem.pagedMessages, n, 'every recovered message is paged');
    assert.equal(mem.heldBytes, 0, 'no body read at recovery');

    // Browsing reads copies: nothing stays in memory, nothing is taken.
    const browsed: Delivery[] = [];
    let ended = false;
    const browser = q.browse({ creditMode: false }, (d) => browsed.push(d));
    browser.onEnd = () => (ended = true);
    browser.pump();
    await eventually(() => ended, { what: 'the end of the browse' });
    assert.deepEqual(browsed.map(body), expectedOrder(n));
    browser.close();
    assert.equal(mem.heldBytes, 0);
    assert.equal(q.messageCount, n);
    // The admin API's page of messages, from position 10.
    const page = await q.peekMessages(5, 10);
    assert.deepEqual(page.map((p) => p.message.payload.toString().slice(0, -PAYLOAD.length)), expectedOrder(n).slice(10, 15));

    const got = await drainAll(q, n);
    assert.deepEqual(got.map(body), expectedOrder(n));
    await eventually(() => mem.heldBytes === 0 && mem.pagedMessages === 0, { what: 'counters back to 0' });
    await broker!.close();
    await open();
    assert.equal(broker!.getQueue('deep')!.messageCount, 0, 'the acks were journaled');
  });

  it('gives a selecting consumer the paged messages it selects, in order, and leaves the others', async () => {
    await open();
    const q = await broker!.declareQueue('sel', { durable: true });
    const n = 600;
    await fill('sel', n, (i) => ({ headers: { region: i % 2 ? 'us' : 'eu' } }));
    const got: Delivery[] = [];
    q.consume({ prefetch: 0, autoAck: true, creditMode: false, selector: (m) => m.headers.region === 'eu' }, (d) => got.push(d));
    await eventually(() => got.length >= n / 2, { what: 'the eu messages' });
    await tick(50);
    assert.deepEqual(got.map(body), Array.from({ length: n / 2 }, (_, i) => `m${2 * i}`));
    assert.equal(q.messageCount, n / 2);
  });

  it('expires paged messages by TTL, moving them with their bodies to the dead-letter queue (deadLetterOnExpiry)', async () => {
    await open();
    const q = await broker!.declareQueue('ttl', { durable: true, messageTtl: 100, deadLetterOnExpiry: true });
    const n = 300;
    await fill('ttl', n, () => ({}));
    assert.ok(broker!.queueMemory.pagedMessages > 200);
    await eventually(() => q.messageCount === 0, { what: 'expiry' });
    assert.equal(q.stats.expired, n);
    const dlq = broker!.getQueue('ttl.dlq')!;
    await eventually(() => dlq.messageCount === n, { what: 'the dead-lettered messages' });
    const got = await drainAll(dlq, n);
    assert.deepEqual(got.map(body), Array.from({ length: n }, (_, i) => `m${i}`));
    assert.ok(got.every((d) => d.message.headers['x-death-reason'] === 'expired' && d.message.expiry === undefined));
  });

  it('drops the oldest paged messages under maxLength with drop-head, and dead-letters paged ones after maxDeliveries', async () => {
    await open();
    const q = await broker!.declareQueue('bounded', { durable: true, maxLength: 100, overflow: 'drop-head', maxDeliveries: 2 });
    await fill('bounded', 300, () => ({}));
    assert.equal(q.messageCount, 100);
    assert.equal(q.stats.dropped, 200);
    const mem = broker!.queueMemory;
    assert.ok(mem.pagedMessages <= 100 && mem.heldBytes <= BUDGET);
    // Every delivery fails: after two, each message goes to the dead-letter queue, body read back if paged.
    const c = q.consume({ prefetch: 10, autoAck: false, creditMode: false }, (d, consumer) => {
      setImmediate(() => void consumer.nack(d.tag, { requeue: true, failed: true }));
    });
    const dlq = await broker!.declareQueue('bounded.dlq');
    await eventually(() => dlq.messageCount === 100, { what: 'the dead-lettered messages' });
    c.close();
    const got = await drainAll(dlq, 100);
    assert.deepEqual(got.map(body).sort(), Array.from({ length: 100 }, (_, i) => `m${200 + i}`).sort());
    assert.ok(got.every((d) => d.message.headers['x-death-reason'] === 'delivery-limit'));
  });

  it('reads paged messages back while compaction moves them (small journal segments), before and after a restart', async () => {
    const openSmall = async () => (broker = await openBroker(fileStore(t.dir, { journalSegmentBytes: 16 * 1024 }), { queueMemoryBytes: BUDGET }));
    await openSmall();
    const q = await broker!.declareQueue('moving', { durable: true });
    const other = await broker!.declareQueue('other', { durable: true });
    // Interleave a second queue whose messages die at once: the segments of 'moving' become mostly
    // dead, so compaction copies its paged messages to the head while they are being read.
    const sends: Promise<void>[] = [];
    for (let i = 0; i < 2000; i++) {
      sends.push(broker!.sendToQueue('moving', msg('moving', `m${i}${PAYLOAD}`, { durable: true })));
      for (let k = 0; k < 3; k++) sends.push(broker!.sendToQueue('other', msg('other', `o${i}-${k}${PAYLOAD}`, { durable: true })));
    }
    await Promise.all(sends);
    const segmentsBefore = (broker!.store as unknown as { journalSegments: number[] }).journalSegments.length;
    assert.ok(segmentsBefore > 20, `segments: ${segmentsBefore}`);
    other.purge(); // three quarters of every segment die: compaction starts at the next roll
    const first = await drainAll(q, 1000);
    assert.deepEqual(first.map(body), Array.from({ length: 1000 }, (_, i) => `m${i}`));
    // More messages roll more segments (compaction runs), then a restart reads the rest from where they moved.
    await fill('moving', 500, () => ({}));
    await broker!.close();
    await openSmall();
    const q2 = broker!.getQueue('moving')!;
    assert.equal(q2.messageCount, 1500);
    const rest = await drainAll(q2, 1500);
    assert.deepEqual(rest.map(body), [...Array.from({ length: 1000 }, (_, i) => `m${1000 + i}`), ...Array.from({ length: 500 }, (_, i) => `m${i}`)]);
    assert.ok(!(broker!.store as unknown as { journalSegments: number[] }).journalSegments.includes(0), 'the first segments were compacted away');
  });

  it('counts nothing left in memory after a purge or a deletion of paged queues', async () => {
    await open();
    const a = await broker!.declareQueue('a', { durable: true });
    await broker!.declareQueue('b', { durable: true });
    await fill('a', 200);
    await fill('b', 200);
    const mem = broker!.queueMemory;
    assert.ok(mem.pagedMessages > 300);
    assert.equal(a.purge(), 200);
    await broker!.deleteQueue('b');
    assert.equal(mem.pagedMessages, 0);
    assert.equal(mem.heldBytes, 0);
    await broker!.close();
    await open();
    assert.equal(broker!.getQueue('a')!.messageCount, 0);
  });

  it('keeps a held body without the larger buffer an adapter sliced it from', async () => {
    broker = await openBroker(fileStore(t.dir), { queueMemoryBytes: 64 * 1024 * 1024 });
    await broker.declareQueue('held', { durable: true });
    const n = 500;
    const before = await liveBytes();
    const sends: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      // As a socket read hands it over: 100 bytes of a 64 KiB chunk.
      const chunk = Buffer.alloc(64 * 1024, i % 256);
      sends.push(broker.sendToQueue('held', msg('held', '', { durable: true, payload: chunk.subarray(0, 100) })));
    }
    await Promise.all(sends);
    assert.equal(broker.queueMemory.pagedMessages, 0, 'every body held');
    const grown = (await liveBytes()) - before;
    // 500 chunks would be 32 MiB; the held copies are 100 bytes each plus their objects.
    assert.ok(grown < 4 * 1024 * 1024, `memory grew by ${grown} bytes for ${n} held 100-byte bodies`);
    const got = await drainAll(broker.getQueue('held')!, n);
    assert.deepEqual(got.map((d) => d.message.payload[0]), Array.from({ length: n }, (_, i) => i % 256));
  });
});
