import assert from 'node:assert/strict';
import { createMessage } from '../../core/message.js';
import { brokerTotals } from '../../plugins/admin/introspection.js';
import { RateTracker } from '../../plugins/admin/overview-api.js';
import type { RunningBroker } from '../support/index.js';
import { call, queuePath, startAdminBroker } from './helpers.js';

describe('admin API: overview and publish', () => {
  let b: RunningBroker;
  beforeEach(async () => (b = await startAdminBroker()));
  afterEach(() => b.close());

  it('GET /api lists the endpoints', async () => {
    const r = await call(b, 'GET', '/api');
    assert.equal(r.status, 200);
    const paths = r.json.endpoints.map((e: { path: string }) => e.path);
    for (const p of ['/api/overview', '/api/queues', '/api/queues/:name', '/api/streams', '/api/groups', '/api/publish']) assert.ok(paths.includes(p), p);
    assert.equal((await call(b, 'GET', '/api/')).status, 200);
  });

  it('GET /api/overview: version, uptime, listeners with ports, counts, unroutable, store, auth', async () => {
    await b.broker.declareQueue('a');
    await b.broker.declareQueue('b');
    await b.broker.bindQueue('a', 'x.#');
    await b.broker.createStream('s', { partitions: 2 });
    await b.broker.publish(createMessage({ topic: 'nowhere', payload: Buffer.from('lost') }));
    await b.broker.publish(createMessage({ topic: 'x.y', payload: Buffer.from('kept') }));

    const r = await call(b, 'GET', '/api/overview');
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type']!, /^application\/json/);
    const o = r.json;
    assert.match(o.version, /^\d+\.\d+\.\d+/);
    assert.equal(typeof o.uptimeSeconds, 'number');
    assert.ok(!Number.isNaN(Date.parse(o.startedAt)));
    assert.deepEqual(o.listeners, [{ name: 'http', protocol: 'http', host: '127.0.0.1', port: b.ports.http, tls: false }]);
    assert.deepEqual(o.counts, { queues: 2, streams: 1, partitions: 2, bindings: 2, consumers: 0, groups: 0 });
    assert.equal(o.messages.ready, 1);
    assert.equal(o.unroutable, 1);
    assert.equal(o.store.pendingBytes, 0);
    assert.deepEqual(o.auth, { anonymousAllowed: true });
    assert.ok(o.rates === null || typeof o.rates.published === 'number');
  });

  it('computes rates from two samples of the totals (never negative)', () => {
    const base = brokerTotals(b.broker);
    const t = new RateTracker({ ...base, published: 100, acked: 50 }, 10_000);
    assert.deepEqual(t.sample({ ...base, published: 300, acked: 40 }, 12_000), { published: 100, delivered: 0, acked: 0, unroutable: 0, streamRecords: 0 });
    assert.equal(t.sample({ ...base, published: 999 }, 12_500)!.published, 100, 'within a second: the previous rates');
    assert.equal(t.sample({ ...base, published: 310 }, 13_000)!.published, 10);
  });

  it('POST /api/publish routes by topic with payload text, headers and properties', async () => {
    const q = await b.broker.declareQueue('inbox');
    await b.broker.bindQueue('inbox', 'mail.*');
    const r = await call(b, 'POST', '/api/publish', {
      body: {
        topic: 'mail.alice', payload: 'héllo', headers: { h: 'v', n: 2, ok: true }, contentType: 'text/plain', durable: true,
        correlationId: 'c-9', replyTo: '/queue/replies', messageId: 'm-1', priority: 6, key: 'k1', ttl: 60000,
      },
    });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { topic: 'mail.alice', routed: true, size: Buffer.byteLength('héllo') });
    const m = q.peekEntries(1)[0].message!;
    assert.equal(m.payload.toString('utf8'), 'héllo');
    assert.deepEqual(m.headers, { h: 'v', n: 2, ok: true });
    assert.equal(m.contentType, 'text/plain');
    assert.equal(m.durable, true);
    assert.equal(m.text, true);
    assert.equal(m.correlationId, 'c-9');
    assert.equal(m.replyTo, '/queue/replies');
    assert.equal(m.messageId, 'm-1');
    assert.equal(m.priority, 6);
    assert.equal(m.key?.toString(), 'k1');
    assert.equal(m.source, 'http');
    assert.ok(m.expiry !== undefined && m.expiry > m.timestamp);
  });

  it('POST /api/publish with payloadBase64 keeps the bytes; unroutable topics say routed: false', async () => {
    const q = await b.broker.declareQueue('bin');
    await b.broker.bindQueue('bin', 'raw');
    const bytes = Buffer.from([0, 0xff, 0x10, 0x80]);
    const r = await call(b, 'POST', '/api/publish', { body: { topic: 'raw', payloadBase64: bytes.toString('base64') } });
    assert.equal(r.json.routed, true);
    assert.deepEqual(q.peekEntries(1)[0].message!.payload, bytes);
    assert.equal(q.peekEntries(1)[0].message!.text, undefined);

    const lost = await call(b, 'POST', '/api/publish', { body: { topic: 'no.one.listens', payload: 'x' } });
    assert.equal(lost.status, 200);
    assert.equal(lost.json.routed, false);
    assert.equal(b.broker.unroutable, 1);
  });

  it('POST /api/publish to a queue sends straight to it; 404 for an unknown queue, 409 when it is full', async () => {
    await call(b, 'PUT', queuePath('direct'), { body: { maxLength: 1, overflow: 'reject', durable: false } });
    const ok = await call(b, 'POST', '/api/publish', { body: { queue: 'direct', payload: 'one' } });
    assert.deepEqual(ok.json, { queue: 'direct', routed: true, size: 3 });
    const full = await call(b, 'POST', '/api/publish', { body: { queue: 'direct', payload: 'two' } });
    assert.equal(full.status, 409);
    assert.match(full.json.error, /full/);
    const none = await call(b, 'POST', '/api/publish', { body: { queue: 'ghost', payload: 'x' } });
    assert.equal(none.status, 404);
  });

  it('POST /api/publish refuses malformed requests with 400', async () => {
    for (const body of [
      { payload: 'no target' },
      { topic: 't', queue: 'q', payload: 'both' },
      { topic: 'a.*', payload: 'wildcard' },
      { topic: '', payload: 'empty' },
      { topic: 't', payload: 'x', payloadBase64: 'eA==' },
      { topic: 't', payloadBase64: 'not base64!' },
      { topic: 't', payload: 5 },
      { topic: 't', headers: { h: { nested: 1 } } },
      { topic: 't', headers: [] },
      { topic: 't', durable: 'yes' },
      { topic: 't', priority: 10 },
      { topic: 't', ttl: -5 },
      { topic: 't', surprise: 1 },
    ]) {
      const r = await call(b, 'POST', '/api/publish', { body });
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(typeof r.json.error, 'string');
    }
  });
});
