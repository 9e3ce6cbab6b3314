import assert from 'node:assert/strict';
import type { Delivery } from '../../core/queue-types.js';
import { MemoryStore } from '../../core/storage/memory-store.js';
import { bodies, msg, openBroker, tick } from './helpers.js';

describe('core/queue', () => {
  it('shares messages between competing consumers, one delivery each', async () => {
    const broker = await openBroker();
    const q = await broker.declareQueue('jobs');
    const a: Delivery[] = [];
    const b: Delivery[] = [];
    q.consume({ prefetch: 0, autoAck: true, creditMode: false }, (d) => a.push(d));
    q.consume({ prefetch: 0, autoAck: true, creditMode: false }, (d) => b.push(d));
    for (let i = 0; i < 10; i++) await broker.sendToQueue('jobs', msg('jobs', `m${i}`));
    assert.equal(a.length + b.length, 10);
    assert.equal(a.length, 5);
    assert.deepEqual([...bodies(a), ...bodies(b)].sort(), Array.from({ length: 10 }, (_, i) => `m${i}`).sort());
    await broker.close();
  });

  it('bounds unacknowledged deliveries by prefetch and continues on ack', async () => {
    const broker = await openBroker();
    const q = await broker.declareQueue('p');
    const got: Delivery[] = [];
    const c = q.consume({ prefetch: 2, autoAck: false, creditMode: false }, (d) => got.push(d));
    for (let i = 0; i < 5; i++) await broker.sendToQueue('p', msg('p', `m${i}`));
    assert.deepEqual(bodies(got), ['m0', 'm1']);
    await c.ack(got[0].tag);
    assert.deepEqual(bodies(got), ['m0', 'm1', 'm2']);
    await c.ackUpTo(got[2].tag);
    assert.deepEqual(bodies(got), ['m0', 'm1', 'm2', 'm3', 'm4']);
    await broker.close();
  });

  it('delivers only as credit allows in credit mode, and drain gives up the rest', async () => {
    const broker = await openBroker();
    const q = await broker.declareQueue('c');
    const got: Delivery[] = [];
    const c = q.consume({ prefetch: 0, autoAck: true, creditMode: true }, (d) => got.push(d));
    for (let i = 0; i < 3; i++) await broker.sendToQueue('c', msg('c', `m${i}`));
    assert.equal(got.length, 0);
    c.addCredit(2);
    assert.deepEqual(bodies(got), ['m0', 'm1']);
    c.addCredit(5);
    assert.equal(got.length, 3);
    assert.equal(c.drain(), 4);
    assert.equal(c.availableCredit, 0);
    await broker.close();
  });

  it('redelivers a nacked message to another consumer, marked redelivered', async () => {
    const broker = await openBroker();
    const q = await broker.declareQueue('n');
    const first: Delivery[] = [];
    const second: Delivery[] = [];
    const c1 = q.consume({ prefetch: 1, autoAck: false, creditMode: false }, (d) => first.push(d));
    await broker.sendToQueue('n', msg('n', 'x'));
    const c2 = q.consume({ prefetch: 1, autoAck: false, creditMode: false }, (d) => second.push(d));
    await c1.nack(first[0].tag, { requeue: true, failed: true, avoidConsumer: true });
    assert.equal(second.length, 1);
    assert.equal(second[0].redelivered, true);
    assert.equal(second[0].deliveryCount, 1);
    await c2.ack(second[0].tag);
    assert.equal(q.messageCount + q.unackedMessageCount, 0);
    await broker.close();
  });

  it('requeues unacknowledged deliveries when a consumer disappears', async () => {
    const broker = await openBroker();
    const q = await broker.declareQueue('gone');
    const got: Delivery[] = [];
    const c1 = q.consume({ prefetch: 10, autoAck: false, creditMode: false }, () => undefined);
    await broker.sendToQueue('gone', msg('gone', 'a'));
    await broker.sendToQueue('gone', msg('gone', 'b'));
    c1.close();
    q.consume({ prefetch: 10, autoAck: true, creditMode: false }, (d) => got.push(d));
    assert.deepEqual(bodies(got), ['a', 'b']);
    assert.ok(got.every((d) => d.redelivered));
    await broker.close();
  });

  it('dead-letters after maxDeliveries failed deliveries and on reject', async () => {
    const broker = await openBroker(undefined, { queueDefaults: { maxDeliveries: 3 } });
    const q = await broker.declareQueue('work');
    let consumer = q.consume({ prefetch: 1, autoAck: false, creditMode: false }, (d, c) => {
      setImmediate(() => void c.nack(d.tag, { requeue: true, failed: true }));
    });
    await broker.sendToQueue('work', msg('work', 'poison'));
    await tick(20);
    consumer.close(false);
    const dlq = broker.getQueue('work.dlq');
    assert.ok(dlq, 'dead-letter queue created');
    const dead: Delivery[] = [];
    dlq.consume({ prefetch: 0, autoAck: true, creditMode: false }, (d) => dead.push(d));
    assert.deepEqual(bodies(dead), ['poison']);
    assert.equal(dead[0].message.headers['x-dead-letter-reason'], 'delivery-limit');
    assert.equal(dead[0].message.headers['x-original-queue'], 'work');

    consumer = q.consume({ prefetch: 1, autoAck: false, creditMode: false }, (d, c) => void c.reject(d.tag));
    await broker.sendToQueue('work', msg('work', 'bad'));
    assert.deepEqual(bodies(dead), ['poison', 'bad']);
    assert.equal(dead[1].message.headers['x-dead-letter-reason'], 'rejected');
    await broker.close();
  });

  it('expires messages by per-message expiry and per-queue TTL', async () => {
    const broker = await openBroker();
    const q = await broker.declareQueue('ttl', { messageTtl: 30 });
    await broker.sendToQueue('ttl', msg('ttl', 'queue-ttl'));
    const q2 = await broker.declareQueue('exp');
    await broker.sendToQueue('exp', msg('exp', 'old', { expiry: Date.now() - 1 }));
    await broker.sendToQueue('exp', msg('exp', 'fresh', { expiry: Date.now() + 60_000 }));
    await tick(120);
    assert.equal(q.messageCount, 0);
    assert.equal(q.stats.expired, 1);
    const got: Delivery[] = [];
    q2.consume({ prefetch: 0, autoAck: true, creditMode: false }, (d) => got.push(d));
    assert.deepEqual(bodies(got), ['fresh']);
    await broker.close();
  });

  it('drops the oldest past the bound under drop-head and counts them', async () => {
    const broker = await openBroker();
    const q = await broker.declareQueue('bounded', { maxLength: 3, overflow: 'drop-head' });
    for (let i = 0; i < 5; i++) await broker.sendToQueue('bounded', msg('bounded', `m${i}`));
    assert.equal(q.messageCount, 3);
    assert.equal(q.stats.dropped, 2);
    assert.deepEqual(q.peekEntries(10).map((e) => e.message!.payload.toString()), ['m2', 'm3', 'm4']);
    await broker.close();
  });

  it('refuses publishes past the bound under reject', async () => {
    const broker = await openBroker();
    await broker.declareQueue('strict', { maxLength: 1, overflow: 'reject' });
    await broker.sendToQueue('strict', msg('strict', 'a'));
    await assert.rejects(broker.sendToQueue('strict', msg('strict', 'b')), /full/);
    await broker.close();
  });

  it('keeps durable messages of durable queues across a restart, and forgets acked ones', async () => {
    const store = new MemoryStore();
    let broker = await openBroker(store);
    const q = await broker.declareQueue('orders', { durable: true });
    await broker.bindQueue('orders', 'shop.#');
    await broker.publish(msg('shop.eu.order', 'kept', { durable: true, headers: { n: 1, big: 2n, flag: true } }));
    await broker.publish(msg('shop.eu.order', 'acked', { durable: true }));
    await broker.publish(msg('shop.eu.order', 'transient', { durable: false }));
    const got: Delivery[] = [];
    const c = q.consume({ prefetch: 0, autoAck: false, creditMode: false }, (d) => got.push(d));
    await c.ack(got[1].tag);
    await broker.close();

    broker = await openBroker(store);
    const q2 = broker.getQueue('orders');
    assert.ok(q2);
    const after: Delivery[] = [];
    q2.consume({ prefetch: 0, autoAck: true, creditMode: false }, (d) => after.push(d));
    assert.deepEqual(bodies(after), ['kept']);
    assert.deepEqual(after[0].message.headers, { n: 1, big: 2n, flag: true });
    await broker.publish(msg('shop.us.order', 'rebound', { durable: true }));
    assert.deepEqual(bodies(after), ['kept', 'rebound'], 'binding survived the restart');
    await broker.close();
  });

  it('deletes auto-delete queues when their last consumer leaves', async () => {
    const broker = await openBroker();
    const q = await broker.declareQueue('tmp.x', { autoDelete: true, exclusiveOwner: 'conn1' });
    assert.throws(() => q.consume({ prefetch: 0, autoAck: true, creditMode: false, owner: 'conn2' }, () => undefined), /exclusive/);
    const c = q.consume({ prefetch: 0, autoAck: true, creditMode: false, owner: 'conn1' }, () => undefined);
    c.close();
    await tick();
    assert.equal(broker.getQueue('tmp.x'), undefined);
    await broker.close();
  });
});
