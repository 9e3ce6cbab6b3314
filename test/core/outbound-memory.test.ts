import assert from 'node:assert/strict';
import type { Delivery } from '../../core/queue-types.js';
import { recordingLogger, type LogRecord } from '../support/logger.js';
import { msg, openBroker, tick } from './helpers.js';

const KiB = 1024;
const body = (n: number) => 'x'.repeat(n);

/** Resolves true once `p` settles, false after `ms`. */
function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    p.then(() => { clearTimeout(t); resolve(true); }, () => { clearTimeout(t); resolve(true); });
  });
}

describe('core/outbound memory (limits.outboundMemoryBytes)', () => {
  it('counts every unpageable body from enqueue until it leaves the broker, whatever the way out', async () => {
    const broker = await openBroker();
    const memory = broker.outboundMemory;
    const held = () => memory.heldBytes;

    // Auto-ack and explicit acks, a requeue in between.
    const q = await broker.declareQueue('ways');
    for (let i = 0; i < 3; i++) await broker.sendToQueue('ways', msg('ways', body(100)));
    assert.ok(held() > 300 && q.outboundBytes === held());
    const got: Delivery[] = [];
    const c = q.consume({ prefetch: 0, autoAck: false, creditMode: false }, (d) => got.push(d));
    await c.nack(got[0].tag, { requeue: true, failed: false });
    for (const d of got.slice(1)) await c.ack(d.tag);
    assert.equal(held(), 0);
    c.close();
    const auto = q.consume({ prefetch: 0, autoAck: true, creditMode: false }, () => undefined);
    await broker.sendToQueue('ways', msg('ways', body(100)));
    assert.equal(held(), 0);
    auto.close();

    // Rejected into a dead-letter queue (held there), then purged.
    const r = await broker.declareQueue('rej', { deadLetterQueue: 'rej.dlq' });
    const rd: Delivery[] = [];
    const rc = r.consume({ prefetch: 0, autoAck: false, creditMode: false }, (d) => rd.push(d));
    await broker.sendToQueue('rej', msg('rej', body(100)));
    await rc.reject(rd[0].tag);
    await tick(10);
    assert.equal(r.outboundBytes, 0);
    assert.ok(broker.getQueue('rej.dlq')!.outboundBytes > 0);
    broker.getQueue('rej.dlq')!.purge();
    assert.equal(held(), 0);

    // Dropped at the head, expired, and a deleted queue's ready messages.
    await broker.declareQueue('drop', { overflow: 'drop-head', maxLength: 2 });
    for (let i = 0; i < 5; i++) await broker.sendToQueue('drop', msg('drop', body(100)));
    assert.equal(broker.getQueue('drop')!.outboundBytes, held());
    await broker.declareQueue('ttl', { messageTtl: 20 });
    await broker.sendToQueue('ttl', msg('ttl', body(100)));
    await broker.deleteQueue('drop');
    for (let i = 0; i < 100 && held() > 0; i++) await tick(20); // the housekeeping sweep expires it
    assert.equal(held(), 0);

    // An auto-delete queue whose only consumer leaves with deliveries unacknowledged.
    const t = await broker.declareQueue('temp', { autoDelete: true, exclusiveOwner: 'c1' });
    t.consume({ prefetch: 0, autoAck: false, creditMode: false, owner: 'c1' }, () => undefined);
    await broker.sendToQueue('temp', msg('temp', body(100)));
    t.consumers[0].close();
    await tick(10);
    assert.equal(broker.getQueue('temp'), undefined);
    assert.equal(held(), 0);
    await broker.close();
  });

  it('past the bound, publishes into the queues that hold the most wait; others go on; all resume below it, logged once each way', async () => {
    const records: LogRecord[] = [];
    const broker = await openBroker(undefined, { outboundMemoryBytes: 512 * KiB, log: recordingLogger(records) });
    const memory = broker.outboundMemory;
    const slow = await broker.declareQueue('slow');
    await broker.declareQueue('fast');
    broker.getQueue('fast')!.consume({ prefetch: 0, autoAck: true, creditMode: false }, () => undefined);

    const waiting: Array<Promise<void>> = [];
    for (let i = 0; i < 12; i++) {
      const p = broker.sendToQueue('slow', msg('slow', body(64 * KiB)));
      if (!(await settlesWithin(p, 50))) waiting.push(p);
    }
    assert.equal(memory.pressure, true);
    assert.ok(waiting.length >= 3, `publishes into the full queue wait (${waiting.length})`);
    assert.equal(slow.messageCount, 12, 'a waiting publish is kept, not refused');
    assert.equal(await settlesWithin(broker.sendToQueue('fast', msg('fast', body(64 * KiB))), 1000), true, 'a queue whose consumer reads is not held');
    assert.deepEqual(memory.largest(1).map((h) => h.queue), ['slow']);

    slow.purge();
    assert.equal(memory.pressure, false);
    await Promise.all(waiting);
    assert.deepEqual(records.map((r) => [r.level, r.msg?.split(':')[0]]), [
      ['warn', 'outbound memory over limits.outboundMemoryBytes'],
      ['info', 'outbound memory back under limits.outboundMemoryBytes'],
    ]);
    await broker.close();
  });

  it('a queue that drains below its share lets its publishers go while others stay over the bound', async () => {
    const broker = await openBroker(undefined, { outboundMemoryBytes: 256 * KiB });
    const a = await broker.declareQueue('a');
    await broker.declareQueue('b');
    for (let i = 0; i < 6; i++) void broker.sendToQueue('b', msg('b', body(64 * KiB)));
    const heldA = broker.sendToQueue('a', msg('a', body(64 * KiB)));
    const heldA2 = broker.sendToQueue('a', msg('a', body(64 * KiB)));
    assert.equal(await settlesWithin(heldA2, 50), false);
    a.purge();
    assert.equal(broker.outboundMemory.pressure, true, 'b still holds more than the bound');
    assert.equal(await settlesWithin(Promise.all([heldA, heldA2]), 1000), true);
    await broker.close();
  });
});
