import assert from 'node:assert/strict';
import type { Delivery } from '../../core/queue-types.js';
import { MemoryStore } from '../../core/storage/memory-store.js';
import { store as fileStore, tempDir } from '../storage/helpers.js';
import { bodies, msg, openBroker, tick } from './helpers.js';
import { eventually } from '../support/index.js';

const drain = (q: { consume: Function }) => {
  const got: Delivery[] = [];
  (q.consume as (o: object, f: (d: Delivery) => void) => unknown)({ prefetch: 0, autoAck: true, creditMode: false }, (d: Delivery) => got.push(d));
  return got;
};

describe('core/queue priorities, browsing and expiry to the dead-letter queue', () => {
  it('delivers higher priority first and FIFO within one priority (unset = 4)', async () => {
    const broker = await openBroker();
    const q = await broker.declareQueue('prio');
    const sends: Array<[string, number | undefined]> = [['a4', undefined], ['b1', 1], ['c9', 9], ['d4', 4], ['e9', 9], ['f1', 1], ['g7', 7]];
    for (const [body, priority] of sends) await broker.sendToQueue('prio', msg('prio', body, { priority }));
    assert.deepEqual(q.peekEntries(100).map((e) => e.message!.payload.toString()), ['c9', 'e9', 'g7', 'a4', 'd4', 'b1', 'f1']);
    assert.deepEqual(bodies(drain(q)), ['c9', 'e9', 'g7', 'a4', 'd4', 'b1', 'f1']);
    await broker.close();
  });

  it('keeps plain FIFO on a queue that opted out (priorities: false)', async () => {
    const broker = await openBroker();
    const q = await broker.declareQueue('fifo', { priorities: false });
    for (const [body, priority] of [['x', 1], ['y', 9], ['z', 5]] as const) await broker.sendToQueue('fifo', msg('fifo', body, { priority }));
    assert.deepEqual(bodies(drain(q)), ['x', 'y', 'z']);
    await broker.close();
  });

  it('puts a requeued message back at the head of its own priority', async () => {
    const broker = await openBroker();
    const q = await broker.declareQueue('rq');
    const got: Delivery[] = [];
    const c = q.consume({ prefetch: 1, autoAck: false, creditMode: false }, (d) => got.push(d));
    await broker.sendToQueue('rq', msg('rq', 'low-first', { priority: 2 }));
    await broker.sendToQueue('rq', msg('rq', 'low-second', { priority: 2 }));
    await broker.sendToQueue('rq', msg('rq', 'high', { priority: 8 }));
    assert.deepEqual(bodies(got), ['low-first']);
    await c.nack(got[0].tag, { requeue: true, failed: false });
    // high outranks the requeued one; the requeued one is still ahead of low-second
    assert.deepEqual(bodies(got), ['low-first', 'high']);
    await c.ack(got[1].tag);
    await c.ack(got[2].tag);
    assert.deepEqual(bodies(got), ['low-first', 'high', 'low-first', 'low-second']);
    assert.equal(got[2].redelivered, true);
    await broker.close();
  });

  it('drops the oldest of the lowest priority under drop-head', async () => {
    const broker = await openBroker();
    const q = await broker.declareQueue('dh', { maxLength: 3, overflow: 'drop-head' });
    for (const [body, priority] of [['h1', 9], ['l1', 1], ['l2', 1], ['h2', 9], ['m', 5]] as const) {
      await broker.sendToQueue('dh', msg('dh', body, { priority }));
    }
    assert.equal(q.stats.dropped, 2);
    assert.deepEqual(q.peekEntries(10).map((e) => e.message!.payload.toString()), ['h1', 'h2', 'm']);
    await broker.close();
  });

  it('takes a ready entry by sequence from any priority', async () => {
    const broker = await openBroker();
    const q = await broker.declareQueue('seq');
    for (const [body, priority] of [['a', 1], ['b', 9], ['c', 1]] as const) await broker.sendToQueue('seq', msg('seq', body, { priority }));
    const [, , c] = q.peekEntries(10);
    assert.equal(c.message!.payload.toString(), 'c');
    assert.equal(q.takeReadyBySeq(c.seq), c);
    assert.equal(q.readyBytes, q.peekEntries(10).reduce((n, e) => n + e.size, 0));
    assert.deepEqual(q.takeReady().map((e) => e.message!.payload.toString()), ['b', 'a']);
    assert.equal(q.messageCount, 0);
    await broker.close();
  });

  it('pages through ready messages in delivery order (peekEntries from/limit)', async () => {
    const broker = await openBroker();
    const q = await broker.declareQueue('page');
    for (let i = 0; i < 6; i++) await broker.sendToQueue('page', msg('page', `m${i}`, { priority: i % 2 === 0 ? 7 : 3 }));
    const page = (from: number, n: number) => q.peekEntries(n, from).map((e) => e.message!.payload.toString());
    assert.deepEqual(page(0, 2), ['m0', 'm2']);
    assert.deepEqual(page(2, 3), ['m4', 'm1', 'm3']);
    assert.deepEqual(page(5, 10), ['m5']);
    assert.deepEqual(page(6, 10), []);
    assert.equal(q.messageCount, 6, 'peeking consumes nothing');
    await broker.close();
  });

  it('keeps priority order, FIFO within each, after a restart from the file store', async () => {
    const tmp = tempDir('prio');
    try {
      let broker = await openBroker(fileStore(tmp.dir));
      await broker.declareQueue('durable-prio', { durable: true });
      const sends: Array<[string, number]> = [['p1-a', 1], ['p6-a', 6], ['p1-b', 1], ['p9-a', 9], ['p6-b', 6], ['p9-b', 9]];
      for (const [body, priority] of sends) await broker.sendToQueue('durable-prio', msg('durable-prio', body, { priority, durable: true }));
      await broker.close();
      broker = await openBroker(fileStore(tmp.dir));
      const q = broker.getQueue('durable-prio')!;
      // Recovered messages are paged out (their bodies are read back as the consumer needs them).
      assert.equal(broker.queueMemory.pagedMessages, 6);
      const got = drain(q);
      await eventually(() => got.length >= 6, { what: 'six recovered messages consumed' });
      assert.deepEqual(bodies(got), ['p9-a', 'p9-b', 'p6-a', 'p6-b', 'p1-a', 'p1-b']);
      assert.equal(broker.queueMemory.pagedMessages, 0);
      await broker.close();
    } finally {
      tmp.remove();
    }
  });

  it('moves expired messages to the dead-letter queue with deadLetterOnExpiry, counted as expired', async () => {
    const broker = await openBroker(new MemoryStore());
    const q = await broker.declareQueue('exp-dlq', { messageTtl: 30, deadLetterOnExpiry: true });
    await broker.sendToQueue('exp-dlq', msg('exp-dlq', 'stale', { priority: 7, headers: { region: 'eu' } }));
    await tick(150);
    assert.equal(q.messageCount, 0);
    assert.equal(q.stats.expired, 1);
    assert.equal(q.stats.deadLettered, 1);
    const dlq = broker.getQueue('exp-dlq.dlq');
    assert.ok(dlq, 'the dead-letter queue was created');
    const [d] = drain(dlq);
    assert.equal(d.message.payload.toString(), 'stale');
    assert.equal(d.message.headers['x-death-reason'], 'expired');
    assert.equal(d.message.headers['x-dead-letter-reason'], 'expired');
    assert.equal(d.message.headers['x-original-queue'], 'exp-dlq');
    assert.equal(d.message.headers.region, 'eu');
    assert.equal(d.message.expiry, undefined, 'it does not expire again in the dead-letter queue');
    await broker.close();
  });

  it('dead-letters a message found expired at dispatch, and still drops expired ones by default', async () => {
    const broker = await openBroker(new MemoryStore(), { housekeepingIntervalMs: 60_000 });
    const a = await broker.declareQueue('at-dispatch', { deadLetterOnExpiry: true });
    const b = await broker.declareQueue('by-default');
    await broker.sendToQueue('at-dispatch', msg('at-dispatch', 'late', { expiry: Date.now() - 1 }));
    await broker.sendToQueue('by-default', msg('by-default', 'late', { expiry: Date.now() - 1 }));
    assert.deepEqual(drain(a), []);
    assert.deepEqual(drain(b), []);
    await tick(10);
    assert.equal(a.stats.expired, 1);
    assert.equal(b.stats.expired, 1);
    assert.equal(b.stats.deadLettered, 0);
    assert.equal(broker.getQueue('by-default.dlq'), undefined);
    assert.deepEqual(bodies(drain(broker.getQueue('at-dispatch.dlq')!)), ['late']);
    await broker.close();
  });
});
