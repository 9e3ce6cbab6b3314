import assert from 'node:assert/strict';
import { createMessage } from '../../core/message.js';
import type { RunningBroker } from '../support/index.js';
import { call, queuePath, startAdminBroker } from './helpers.js';
import { eventually } from '../support/index.js';

describe('admin API: queues', () => {
  let b: RunningBroker;
  beforeEach(async () => (b = await startAdminBroker()));
  afterEach(() => b.close());

  it('declares a queue with PUT (durable by default), shows it, and refuses a conflicting redeclare with 409', async () => {
    const name = 'orders.eu:west/urgent@shop';
    const created = await call(b, 'PUT', queuePath(name), { body: { maxLength: 5, overflow: 'reject', messageTtl: 60000, maxDeliveries: 3, deadLetterQueue: 'orders.dead' } });
    assert.equal(created.status, 201);
    assert.equal(created.headers.location, queuePath(name));
    assert.equal(created.json.name, name);
    assert.equal(created.json.durable, true);
    assert.deepEqual(created.json.options, { maxLength: 5, maxBytes: b.broker.getQueue(name)!.options.maxBytes, overflow: 'reject', messageTtl: 60000, maxDeliveries: 3, deadLetterQueue: 'orders.dead', deadLetterOnExpiry: false, priorities: true });
    assert.equal(b.broker.getQueue(name)?.options.durable, true);

    const again = await call(b, 'PUT', queuePath(name), { body: { maxLength: 5 } });
    assert.equal(again.status, 200, 'same options: idempotent');
    const conflict = await call(b, 'PUT', queuePath(name), { body: { maxLength: 6, durable: false } });
    assert.equal(conflict.status, 409);
    assert.match(conflict.json.error, /maxLength, durable/);

    const shown = await call(b, 'GET', queuePath(name));
    assert.equal(shown.status, 200);
    assert.equal(shown.json.name, name);
    assert.deepEqual(shown.json.consumerDetails, []);
  });

  it('declares a non-durable queue with an empty body and default options', async () => {
    const r = await call(b, 'PUT', queuePath('scratch'), { raw: '' });
    assert.equal(r.status, 201);
    const t = await call(b, 'PUT', queuePath('temp'), { body: { durable: false } });
    assert.equal(t.json.durable, false);
    assert.equal(b.broker.getQueue('temp')?.options.durable, false);
  });

  it('refuses bad declare options with 400 naming the key', async () => {
    for (const [body, re] of [
      [{ maxLength: -1 }, /maxLength must be an integer/],
      [{ maxBytes: 1.5 }, /maxBytes/],
      [{ overflow: 'explode' }, /overflow must be one of block, drop-head, reject/],
      [{ durable: 'yes' }, /durable must be true or false/],
      [{ colour: 'blue' }, /unknown queue option "colour"/],
      [{ deadLetterQueue: 7 }, /deadLetterQueue/],
    ] as const) {
      const r = await call(b, 'PUT', queuePath('q'), { body });
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match(r.json.error, re);
    }
    assert.equal(b.broker.getQueue('q'), undefined);
  });

  it('lists queues sorted with messages, consumers, stats and bindings; filters and pages', async () => {
    const jobs = await b.broker.declareQueue('jobs');
    await b.broker.declareQueue('alpha');
    await b.broker.declareQueue('jobs.dlq');
    await b.broker.bindQueue('jobs', 'work.#');
    await b.broker.bindQueue('jobs', 'chores.*');
    for (let i = 0; i < 3; i++) await b.broker.publish(createMessage({ topic: 'work.item', payload: Buffer.from(`m${i}`) }));
    const consumer = jobs.consume({ prefetch: 1, autoAck: false, creditMode: false }, () => undefined);

    const r = await call(b, 'GET', '/api/queues');
    assert.equal(r.status, 200);
    assert.equal(r.json.total, 3);
    assert.deepEqual(r.json.queues.map((q: { name: string }) => q.name), ['alpha', 'jobs', 'jobs.dlq']);
    const q = r.json.queues[1];
    assert.equal(q.messagesReady, 2);
    assert.equal(q.messagesUnacked, 1);
    assert.equal(q.consumers, 1);
    assert.equal(q.durable, false);
    assert.equal(q.autoDelete, false);
    assert.deepEqual(q.stats, { published: 3, delivered: 1, acked: 0, redelivered: 0, dropped: 0, expired: 0, deadLettered: 0 });
    assert.deepEqual(q.bindings, ['chores.*', 'work.#']);

    const detail = await call(b, 'GET', queuePath('jobs'));
    assert.deepEqual(detail.json.consumerDetails.map((c: { prefetch: number; unacked: number }) => [c.prefetch, c.unacked]), [[1, 1]]);
    consumer.close();

    const filtered = await call(b, 'GET', '/api/queues?name=jobs&limit=1&offset=1');
    assert.equal(filtered.json.total, 2);
    assert.deepEqual(filtered.json.queues.map((x: { name: string }) => x.name), ['jobs.dlq']);
    assert.equal((await call(b, 'GET', '/api/queues?limit=0')).status, 400);
    assert.equal((await call(b, 'GET', '/api/queues?offset=x')).status, 400);
  });

  it('answers 404 for an unknown queue on every queue endpoint', async () => {
    for (const [method, rest, body] of [
      ['GET', '', undefined], ['DELETE', '', undefined], ['GET', '/bindings', undefined], ['POST', '/bindings', { pattern: 'a' }],
      ['DELETE', '/bindings?pattern=a', undefined], ['POST', '/purge', undefined], ['GET', '/messages', undefined],
    ] as const) {
      const r = await call(b, method, queuePath('nope', rest), { body });
      assert.equal(r.status, 404, `${method} ${rest}`);
      assert.match(r.json.error, /queue "nope" does not exist/);
    }
  });

  it('binds and unbinds patterns (including # percent-encoded in the query)', async () => {
    await b.broker.declareQueue('q:1');
    const bound = await call(b, 'POST', queuePath('q:1', '/bindings'), { body: { pattern: 'sensors.#' } });
    assert.equal(bound.status, 201);
    assert.equal((await call(b, 'POST', queuePath('q:1', '/bindings'), { body: { pattern: 'sensors.#' } })).status, 200, 'already bound');
    assert.equal(b.broker.hasRoute('sensors.a.b'), true);
    const list = await call(b, 'GET', queuePath('q:1', '/bindings'));
    assert.deepEqual(list.json.bindings, [{ pattern: 'sensors.#', noLocal: false, args: {} }]);

    assert.equal((await call(b, 'POST', queuePath('q:1', '/bindings'), { body: { pattern: 'a.b#' } })).status, 400, 'wildcard inside a word');
    assert.equal((await call(b, 'POST', queuePath('q:1', '/bindings'), { body: {} })).status, 400);
    assert.equal((await call(b, 'POST', queuePath('q:1', '/bindings'), { body: { pattern: 'x', extra: 1 } })).status, 400);
    assert.equal((await call(b, 'DELETE', queuePath('q:1', '/bindings'))).status, 400, 'pattern missing');
    assert.equal((await call(b, 'DELETE', queuePath('q:1', '/bindings?pattern=other'))).status, 404);

    const gone = await call(b, 'DELETE', queuePath('q:1', `/bindings?pattern=${encodeURIComponent('sensors.#')}`));
    assert.equal(gone.status, 204);
    assert.equal(gone.text, '');
    assert.equal(b.broker.hasRoute('sensors.a.b'), false);
  });

  it('peeks at ready messages without consuming them: base64 always, text when UTF-8, limits', async () => {
    const q = await b.broker.declareQueue('peek');
    await b.broker.sendToQueue('peek', createMessage({
      topic: 'peek', payload: Buffer.from('héllo'), headers: { n: 1, raw: Buffer.from([1, 2]) }, contentType: 'text/plain',
      correlationId: 'c1', key: Buffer.from('k'), priority: 7,
    }));
    await b.broker.sendToQueue('peek', createMessage({ topic: 'peek', payload: Buffer.from([0xff, 0xfe, 0x00]) }));
    await b.broker.sendToQueue('peek', createMessage({ topic: 'peek', payload: Buffer.alloc(100, 0x61) }));

    const r = await call(b, 'GET', queuePath('peek', '/messages?limit=2'));
    assert.equal(r.status, 200);
    assert.equal(r.json.messagesReady, 3);
    assert.equal(r.json.messages.length, 2);
    const [text, binary] = r.json.messages;
    assert.equal(text.payloadText, 'héllo');
    assert.equal(Buffer.from(text.payloadBase64, 'base64').toString('utf8'), 'héllo');
    assert.equal(text.size, Buffer.byteLength('héllo'));
    assert.deepEqual(text.headers, { n: 1, raw: { base64: Buffer.from([1, 2]).toString('base64') } });
    assert.equal(text.contentType, 'text/plain');
    assert.equal(text.correlationId, 'c1');
    assert.equal(text.key, 'k');
    assert.equal(text.priority, 7);
    assert.equal(text.redelivered, false);
    assert.equal(binary.payloadText, undefined, 'not UTF-8: no text');
    assert.deepEqual(Buffer.from(binary.payloadBase64, 'base64'), Buffer.from([0xff, 0xfe, 0x00]));

    const cut = await call(b, 'GET', queuePath('peek', '/messages?limit=10&maxPayloadBytes=10'));
    const big = cut.json.messages[2];
    assert.equal(big.size, 100);
    assert.equal(big.payloadTruncated, true);
    assert.equal(Buffer.from(big.payloadBase64, 'base64').length, 10);
    assert.equal(q.messageCount, 3, 'peeking consumed nothing');
    assert.equal((await call(b, 'GET', queuePath('peek', '/messages?limit=501'))).status, 400);
  });

  it('pages through a queue with ?from=&count= in delivery order (priorities from POST /api/publish)', async () => {
    assert.equal((await call(b, 'PUT', queuePath('paged'))).status, 201);
    for (const [payload, priority] of [['p1', 1], ['p8', 8], ['p4', undefined], ['p8b', 8], ['p1b', 1]] as const) {
      const r = await call(b, 'POST', '/api/publish', { body: { queue: 'paged', payload, ...(priority !== undefined ? { priority } : {}) } });
      assert.equal(r.status < 300, true, r.text);
    }
    const page = async (query: string) => (await call(b, 'GET', queuePath('paged', `/messages?${query}`))).json;
    const first = await page('from=0&count=2');
    assert.deepEqual(first.messages.map((m: { payloadText: string }) => m.payloadText), ['p8', 'p8b']);
    assert.equal(first.from, 0);
    const second = await page('from=2&count=2');
    assert.deepEqual(second.messages.map((m: { payloadText: string }) => m.payloadText), ['p4', 'p1']);
    assert.deepEqual((await page('from=4&count=10')).messages.map((m: { payloadText: string }) => m.payloadText), ['p1b']);
    assert.deepEqual((await page('from=9')).messages, []);
    assert.equal((await call(b, 'GET', queuePath('paged', '/messages?from=-1'))).status, 400);
    assert.equal((await call(b, 'GET', queuePath('paged', '/messages?count=0'))).status, 400);
    assert.equal(b.broker.getQueue('paged')!.messageCount, 5, 'paging consumed nothing');
  });

  it('declares deadLetterOnExpiry and priorities; expired messages then show in the DLQ with why and where from', async () => {
    const r = await call(b, 'PUT', queuePath('short-lived'), { body: { deadLetterOnExpiry: true, priorities: false } });
    assert.equal(r.status, 201);
    assert.equal(r.json.options.deadLetterOnExpiry, true);
    assert.equal(r.json.options.priorities, false);
    assert.equal((await call(b, 'PUT', queuePath('bad'), { body: { deadLetterOnExpiry: 'yes' } })).status, 400);
    await call(b, 'POST', '/api/publish', { body: { queue: 'short-lived', payload: 'stale', ttl: 1 } });
    await eventually(() => b.broker.getQueue('short-lived.dlq')?.messageCount, { what: 'the expired message dead-lettered' });
    const dlq = await call(b, 'GET', queuePath('short-lived.dlq', '/messages'));
    assert.equal(dlq.status, 200);
    const [m] = dlq.json.messages;
    assert.equal(m.payloadText, 'stale');
    assert.equal(m.headers['x-death-reason'], 'expired');
    assert.equal(m.headers['x-original-queue'], 'short-lived');
    const q = (await call(b, 'GET', queuePath('short-lived'))).json;
    assert.equal(q.stats.expired, 1);
    assert.equal(q.stats.deadLettered, 1);
    assert.equal(q.messagesReady, 0);
  });

  it('purges ready messages and deletes queues', async () => {
    await b.broker.declareQueue('p');
    for (let i = 0; i < 4; i++) await b.broker.sendToQueue('p', createMessage({ topic: 'p', payload: Buffer.from('x') }));
    const purged = await call(b, 'POST', queuePath('p', '/purge'));
    assert.equal(purged.status, 200);
    assert.deepEqual(purged.json, { queue: 'p', purged: 4 });
    assert.equal(b.broker.getQueue('p')!.messageCount, 0);

    const del = await call(b, 'DELETE', queuePath('p'));
    assert.equal(del.status, 204);
    assert.equal(b.broker.getQueue('p'), undefined);
    assert.equal((await call(b, 'DELETE', queuePath('p'))).status, 404);
  });

  it('percent-decodes each path segment: names with / . : @ and spaces', async () => {
    for (const name of ['a/b', 'x.y.z', 'amqp.sub.c1:link', 'xmpp.offline.bob@localhost', 'with space', 'ünïcode']) {
      assert.equal((await call(b, 'PUT', queuePath(name), { body: {} })).status, 201, name);
      const r = await call(b, 'GET', queuePath(name));
      assert.equal(r.json.name, name);
    }
    assert.equal((await call(b, 'GET', '/api/queues/%E0%A4%A')).status, 400, 'malformed percent-encoding');
    assert.equal((await call(b, 'GET', '/api/queues/a/b')).status, 404, 'an unencoded / is a path separator');
  });
});
