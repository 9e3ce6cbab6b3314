import assert from 'node:assert/strict';
import type { Delivery } from '../../core/queue-types.js';
import { bodies, msg, openBroker, tick } from './helpers.js';

describe('core/broker: topics, no-local, transactions and flow control', () => {
  it('gives every matching subscription one copy, even when several of its bindings match', async () => {
    const broker = await openBroker();
    const a = await broker.declareQueue('sub.a', { autoDelete: true });
    const b = await broker.declareQueue('sub.b', { autoDelete: true });
    await broker.bindQueue('sub.a', 'sensors.#');
    await broker.bindQueue('sub.a', 'sensors.*.temp');
    await broker.bindQueue('sub.b', 'sensors.room2.*');
    const ga: Delivery[] = [];
    const gb: Delivery[] = [];
    a.consume({ prefetch: 0, autoAck: true, creditMode: false }, (d) => ga.push(d));
    b.consume({ prefetch: 0, autoAck: true, creditMode: false }, (d) => gb.push(d));
    await broker.publish(msg('sensors.room1.temp', 't1'));
    await broker.publish(msg('sensors.room2.hum', 'h2'));
    await broker.publish(msg('other', 'x'));
    assert.deepEqual(bodies(ga), ['t1', 'h2']);
    assert.deepEqual(bodies(gb), ['h2']);
    assert.equal(broker.unroutable, 1);
    await broker.close();
  });

  it('skips no-local bindings for the publishing connection only', async () => {
    const broker = await openBroker();
    const q = await broker.declareQueue('nl');
    await broker.bindQueue('nl', 'chat.#', { noLocalOwner: 'me' });
    const got: Delivery[] = [];
    q.consume({ prefetch: 0, autoAck: true, creditMode: false }, (d) => got.push(d));
    await broker.publish(msg('chat.room', 'mine', { origin: 'me' }));
    await broker.publish(msg('chat.room', 'theirs', { origin: 'you' }));
    assert.deepEqual(bodies(got), ['theirs']);
    await broker.close();
  });

  it('stores a repeated publish with the same publishId once, and a different id again', async () => {
    const broker = await openBroker();
    const q = await broker.declareQueue('once', { durable: true });
    await broker.bindQueue('once', 'meter.#');
    const got: Delivery[] = [];
    q.consume({ prefetch: 0, autoAck: true, creditMode: false }, (d) => got.push(d));
    await broker.publish(msg('meter.7', 'r1', { durable: true, publishId: 'client-a/7/n1' }));
    await broker.publish(msg('meter.7', 'r1', { durable: true, publishId: 'client-a/7/n1' }));
    await broker.publish(msg('meter.7', 'r1', { durable: true, publishId: 'client-a/7/n2' }));
    await broker.publish(msg('meter.7', 'r2', { durable: true }));
    assert.deepEqual(bodies(got), ['r1', 'r1', 'r2']);
    await broker.close();
  });

  it('commits staged sends and acks together, and rollback leaves both undone', async () => {
    const broker = await openBroker();
    const q = await broker.declareQueue('tx', { durable: true });
    const got: Delivery[] = [];
    const c = q.consume({ prefetch: 0, autoAck: false, creditMode: false }, (d) => got.push(d));
    await broker.sendToQueue('tx', msg('tx', 'first', { durable: true }));

    const rolled = broker.beginTransaction();
    rolled.send('tx', msg('tx', 'never', { durable: true }));
    rolled.ack(c, got[0].tag);
    rolled.rollback();
    assert.deepEqual(bodies(got), ['first']);
    assert.equal(c.isUnacked(got[0].tag), true, 'a rolled-back ack leaves the delivery unacknowledged');

    const txn = broker.beginTransaction();
    txn.send('tx', msg('tx', 'second', { durable: true }));
    txn.ack(c, got[0].tag);
    assert.deepEqual(bodies(got), ['first'], 'nothing happens before commit');
    await txn.commit();
    assert.deepEqual(bodies(got), ['first', 'second']);
    assert.equal(c.isUnacked(got[0].tag), false);
    assert.throws(() => txn.send('tx', msg('tx', 'late')), /already committed/);
    await broker.close();
  });

  it('slows publishers while a slow consumer keeps a blocking queue over its bound, with memory bounded', async () => {
    const broker = await openBroker();
    const q = await broker.declareQueue('slow', { maxLength: 100, overflow: 'block' });
    let resolved = 0;
    let inFlight = 0;
    let maxDepth = 0;
    const publishOne = async (i: number) => {
      inFlight++;
      await broker.sendToQueue('slow', msg('slow', `m${i}`));
      inFlight--;
      resolved++;
    };
    // A publisher that keeps at most 10 publishes in flight, as adapters do per connection.
    const publisher = (async () => {
      const pending = new Set<Promise<void>>();
      for (let i = 0; i < 1000; i++) {
        const p = publishOne(i).then(() => { pending.delete(p); });
        pending.add(p);
        maxDepth = Math.max(maxDepth, q.messageCount);
        if (pending.size >= 10) await Promise.race(pending);
      }
      await Promise.all(pending);
    })();
    await tick(20);
    assert.ok(resolved < 1000, 'publisher is held back while nobody consumes');
    assert.ok(q.messageCount <= 110, `queue depth stays bounded (${q.messageCount})`);
    const got: Delivery[] = [];
    q.consume({ prefetch: 0, autoAck: true, creditMode: false }, (d) => got.push(d));
    await publisher;
    assert.equal(got.length, 1000);
    assert.equal(inFlight, 0);
    assert.ok(maxDepth <= 110, `max depth ${maxDepth}`);
    await broker.close();
  });
});
