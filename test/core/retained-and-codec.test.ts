import assert from 'node:assert/strict';
import { decodeMessage, encodeMessage } from '../../core/message-codec.js';
import { MemoryStore } from '../../core/storage/memory-store.js';
import { msg, openBroker } from './helpers.js';

describe('core: retained messages and message encoding', () => {
  it('round-trips every message field through the journal encoding', () => {
    const m = msg('a.b', 'payload\u0000bytes', {
      key: Buffer.from('k'), contentType: 'application/json', contentEncoding: 'gzip', messageId: 'id-1',
      correlationId: Buffer.from([1, 2, 3]), replyTo: '/queue/replies', expiry: 1234567, priority: 7, durable: true,
      text: true, source: 'amqp', headers: { s: 'x', n: 1.5, b: false, big: -9007199254740993n, bin: Buffer.from([0]), nil: null },
      annotations: { 'amqp:body': Buffer.from([0x53]) },
    });
    const back = decodeMessage(encodeMessage(m));
    assert.deepEqual(back, m);
  });

  it('keeps, matches, clears and restores retained messages', async () => {
    const store = new MemoryStore();
    let broker = await openBroker(store);
    await broker.retained.set('home.kitchen.temp', msg('home.kitchen.temp', '20'));
    await broker.retained.set('home.hall.temp', msg('home.hall.temp', '18'));
    assert.equal(broker.retained.match('home.*.temp').length, 2);
    await broker.retained.set('home.hall.temp', msg('home.hall.temp', ''));
    assert.deepEqual(broker.retained.match('home.#').map((m) => m.payload.toString()), ['20']);
    await broker.close();
    broker = await openBroker(store);
    assert.equal(broker.retained.get('home.kitchen.temp')?.payload.toString(), '20');
    assert.equal(broker.retained.get('home.hall.temp'), undefined);
    await broker.close();
  });
});
