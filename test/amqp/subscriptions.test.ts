/**
 * Topic subscriptions (transient, durable, shared, global), null-source recovery, dynamic nodes
 * (request/reply), and durable state across a broker restart, with rhea as the client.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import rhea from 'rhea';
import { FileStore } from '../../core/storage/file-store.js';
import { MemoryStore } from '../../core/storage/memory-store.js';
import type { Store } from '../../core/store.js';
import {
  close, connect, openReceiver, openSender, receive, refusal, send, startAmqp, type Harness,
} from './helpers.js';
import { eventually } from '../support/index.js';

const body = (r: { message: rhea.Message }) => r.message.body as unknown;
const remoteSource = (l: rhea.Receiver) => (l as unknown as { remote: { attach: { source: { address?: string; filter?: Record<string, unknown> } } } }).remote.attach.source;

function durableSource(address: string, capabilities: string[] = []): rhea.ReceiverOptions['source'] {
  return { address, durable: 2, expiry_policy: 'never', ...(capabilities.length ? { capabilities } : {}) } as rhea.ReceiverOptions['source'];
}

function detach(l: rhea.Receiver): Promise<void> {
  return new Promise((resolve) => {
    l.once('receiver_close', () => resolve());
    l.detach();
  });
}

function closeLink(l: rhea.Receiver): Promise<void> {
  return new Promise((resolve) => {
    l.once('receiver_close', () => resolve());
    l.close();
  });
}

describe('amqp subscriptions', function () {
  let h: Harness;
  beforeEach(async () => { h = await startAmqp(); });
  afterEach(async () => { await h.stop(); });

  it('topic patterns: * is one word, # is any number', async () => {
    const c = await connect(h.port);
    const one = await openReceiver(c, '/topic/sp.*');
    const any = await openReceiver(c, 'topic://sp.#');
    const gotAny = receive(any, 3);
    const gotOne = receive(one, 1, 5);
    const s = await openSender(c, { target: {} });
    for (const to of ['/topic/sp.a', '/topic/sp.a.b', '/topic/sp']) assert.equal(await send(s, { to, body: to }), 'accepted');
    const [one1] = await gotOne;
    assert.deepEqual([body(one1)], ['/topic/sp.a']);
    assert.equal(one1.message.to, '/topic/sp.a', 'the anonymous relay sender set to');
    assert.deepEqual((await gotAny).map(body).sort(), ['/topic/sp', '/topic/sp.a', '/topic/sp.a.b']);
    assert.equal(h.broker.getQueue([...h.broker.queues()].find((q) => q.name.startsWith('tmp.amqp.'))!.name)?.messageCount, 0);
    await close(c);
  });

  it('a wildcard subscriber learns the topic from properties.to', async () => {
    const c = await connect(h.port);
    const r = await openReceiver(c, '/topic/wt.#');
    const got = receive(r, 2);
    await send(await openSender(c, '/topic/wt.x.y'), { body: 'link target' });
    await send(await openSender(c, { target: {} }), { to: 'topic://wt.z', body: 'relay' });
    const [a, b] = await got;
    assert.equal(a.message.to, '/topic/wt.x.y');
    assert.equal(b.message.to, 'topic://wt.z');
    await close(c);
  });

  it('a transient subscription is an exclusive auto-delete queue gone with its link', async () => {
    const c = await connect(h.port);
    const r = await openReceiver(c, '/topic/tr.x');
    const sub = [...h.broker.queues()].find((q) => q.name.startsWith('tmp.amqp.'))!;
    assert.equal(sub.options.autoDelete, true);
    assert.ok(sub.options.exclusiveOwner);
    assert.deepEqual(h.broker.bindingsOf(sub.name).map((b) => b.pattern), ['tr.x']);
    await closeLink(r);
    await eventually(() => h.broker.getQueue(sub.name) === undefined);
    await close(c);
  });

  it('a durable subscription keeps messages while detached, resumes, and is deleted by a closing detach', async () => {
    const c = await connect(h.port, { container_id: 'c1' });
    const r = await openReceiver(c, { name: 'sub1', source: durableSource('/topic/news.#') });
    const q = h.broker.getQueue('amqp.sub.c1:sub1')!;
    assert.equal(q.options.durable, true);
    await detach(r);
    await eventually(() => q.consumers.length === 0);
    const s = await openSender(c, '/topic/news.today');
    assert.equal(await send(s, { body: 'n1', durable: true }), 'accepted');
    assert.equal(await send(s, { body: 'n2', durable: true }), 'accepted');
    assert.equal(q.messageCount, 2);
    const again = await openReceiver(c, { name: 'sub1', source: durableSource('/topic/news.#') });
    const got = await receive(again, 2);
    assert.deepEqual(got.map(body), ['n1', 'n2']);
    got.forEach((g) => g.delivery.accept());
    await closeLink(again);
    await eventually(() => h.broker.getQueue('amqp.sub.c1:sub1') === undefined);
    await close(c);
  });

  it('a second active subscriber to a non-shared durable subscription is refused (amqp:resource-locked)', async () => {
    const c1 = await connect(h.port, { container_id: 'same' });
    const c2 = await connect(h.port, { container_id: 'same' });
    await openReceiver(c1, { name: 'only', source: durableSource('/topic/x') });
    assert.equal(await refusal(openReceiver(c2, { name: 'only', source: durableSource('/topic/x') })), 'amqp:resource-locked');
    await close(c1);
    await close(c2);
  });

  it('a changed topic on re-attach replaces the subscription', async () => {
    const c = await connect(h.port, { container_id: 'chg' });
    const r = await openReceiver(c, { name: 's', source: durableSource('/topic/old') });
    await detach(r);
    const s = await openSender(c, '/topic/old');
    await send(s, { body: 'stale', durable: true });
    await openReceiver(c, { name: 's', source: durableSource('/topic/new') });
    const q = h.broker.getQueue('amqp.sub.chg:s')!;
    assert.deepEqual(h.broker.bindingsOf(q.name).map((b) => b.pattern), ['new']);
    assert.equal(q.messageCount, 0);
    await close(c);
  });

  it('a null source recovers the durable subscription the link name stands for (Qpid JMS unsubscribe)', async () => {
    const c = await connect(h.port, { container_id: 'rec' });
    const r = await openReceiver(c, { name: 'jms-sub', source: durableSource('/topic/rec.t', ['topic']) });
    await detach(r);
    const found = await openReceiver(c, { name: 'jms-sub' });
    assert.equal(remoteSource(found).address, '/topic/rec.t');
    await closeLink(found);
    await eventually(() => h.broker.getQueue('amqp.sub.rec:jms-sub') === undefined);
    assert.equal(await refusal(openReceiver(c, { name: 'jms-sub' })), 'amqp:not-found');
    await close(c);
  });

  it('shared durable subscriptions: links named sub and sub|2 share one queue', async () => {
    const c = await connect(h.port, { container_id: 'app' });
    const a = await openReceiver(c, { name: 'shared1', source: durableSource('/topic/sh.x', ['shared']) });
    const b = await openReceiver(c, { name: 'shared1|2', source: durableSource('/topic/sh.x', ['shared']) });
    const q = h.broker.getQueue('amqp.sub.app:shared1')!;
    assert.equal(q.consumers.length, 2);
    const ga = receive(a, 2, 10);
    const gb = receive(b, 2, 10);
    const s = await openSender(c, '/topic/sh.x');
    for (let i = 0; i < 4; i++) await send(s, { body: `m${i}` });
    const all = [...(await ga), ...(await gb)].map(body).sort();
    assert.deepEqual(all, ['m0', 'm1', 'm2', 'm3']);
    // Closing one consumer with closed=true keeps the subscription for the other.
    await closeLink(a);
    assert.ok(h.broker.getQueue('amqp.sub.app:shared1'));
    await closeLink(b);
    await eventually(() => h.broker.getQueue('amqp.sub.app:shared1') === undefined);
    await close(c);
  });

  it('global shared subscriptions leave the container id out of the name', async () => {
    const c1 = await connect(h.port, { container_id: 'one' });
    const c2 = await connect(h.port, { container_id: 'two' });
    await openReceiver(c1, { name: 'g1|global', source: durableSource('/topic/gl', ['shared', 'global']) });
    await openReceiver(c2, { name: 'g1|global', source: durableSource('/topic/gl', ['shared', 'global']) });
    assert.equal(h.broker.getQueue('amqp.sub.g1')?.consumers.length, 2);
    await close(c1);
    await close(c2);
  });

  it('shared non-durable (volatile) subscriptions are auto-delete queues', async () => {
    const c = await connect(h.port, { container_id: 'vol' });
    const src = { address: '/topic/v', capabilities: ['shared'] } as rhea.ReceiverOptions['source'];
    const a = await openReceiver(c, { name: 'v1', source: src });
    await openReceiver(c, { name: 'v1|volatile2', source: src });
    const q = h.broker.getQueue('amqp.vsub.vol:v1')!;
    assert.equal(q.options.durable, false);
    assert.equal(q.consumers.length, 2);
    await closeLink(a);
    await close(c);
    await eventually(() => h.broker.getQueue('amqp.vsub.vol:v1') === undefined);
  });

  it('the no-local filter keeps a connection from receiving its own messages; with a selector both are echoed, unknown filters are not', async () => {
    const c = await connect(h.port);
    const other = await connect(h.port);
    const noLocal = { 'no-local': rhea.types.wrap_described([], 'apache.org:no-local-filter:list') };
    const unknown = { 'x-other': rhea.types.wrap_described('z', 'example.org:unknown-filter:string') };
    const r = await openReceiver(c, { source: { address: '/topic/nl', filter: { ...noLocal, ...rhea.filter.selector("a = 'b'"), ...unknown } } } as rhea.ReceiverOptions);
    assert.deepEqual(Object.keys(remoteSource(r).filter ?? {}).sort(), ['jms-selector', 'no-local']);
    const got = receive(r, 1);
    await send(await openSender(c, '/topic/nl'), { body: 'mine', application_properties: { a: 'b' } });
    const theirs = await openSender(other, '/topic/nl');
    await send(theirs, { body: 'not-selected', application_properties: { a: 'c' } });
    await send(theirs, { body: 'theirs', application_properties: { a: 'b' } });
    assert.deepEqual((await got).map(body), ['theirs']);
    await close(c);
    await close(other);
  });

  it('browsing (distribution-mode copy) a topic subscription is refused with amqp:not-implemented (queues: browse.test.ts)', async () => {
    const c = await connect(h.port);
    assert.equal(await refusal(openReceiver(c, { source: { address: '/topic/b.#', distribution_mode: 'copy' } } as rhea.ReceiverOptions)), 'amqp:not-implemented');
    await close(c);
  });

  it('a dynamic receiver gets a temporary queue usable as reply-to (request/reply)', async () => {
    const client = await connect(h.port);
    const service = await connect(h.port);
    const replies = await openReceiver(client, { source: { dynamic: true } } as rhea.ReceiverOptions);
    const replyTo = remoteSource(replies).address!;
    assert.match(replyTo, /^\/queue\/tmp\.amqp\.\d+\.\d+$/);
    const tmpName = replyTo.slice('/queue/'.length);
    assert.equal(h.broker.getQueue(tmpName)?.options.autoDelete, true);

    const requests = await openReceiver(service, '/queue/svc');
    const gotRequest = receive(requests, 1);
    await send(await openSender(client, '/queue/svc'), { body: 'ping', reply_to: replyTo, correlation_id: 'corr-1' });
    const [req] = await gotRequest;
    req.delivery.accept();
    assert.equal(req.message.reply_to, replyTo);
    const relay = await openSender(service, { target: {} });
    const gotReply = receive(replies, 1);
    assert.equal(await send(relay, { to: req.message.reply_to, correlation_id: req.message.correlation_id, body: 'pong' }), 'accepted');
    const [reply] = await gotReply;
    assert.equal(body(reply), 'pong');
    assert.equal(reply.message.correlation_id, 'corr-1');

    // Only its connection may consume from it.
    assert.equal(await refusal(openReceiver(service, replyTo)), 'amqp:resource-locked');
    await closeLink(replies);
    await eventually(() => h.broker.getQueue(tmpName) === undefined);
    // A late reply to the gone queue is refused instead of creating an orphan queue.
    assert.equal(await send(relay, { to: replyTo, body: 'late' }), 'rejected:amqp:not-found');
    assert.equal(h.broker.getQueue(tmpName), undefined);
    await close(client);
    await close(service);
  });

  it('a dynamic target makes a temporary queue owned by the connection, deleted with the link', async () => {
    const c = await connect(h.port);
    const s = await openSender(c, { target: { dynamic: true } } as rhea.SenderOptions);
    const address = (s as unknown as { remote: { attach: { target: { address: string } } } }).remote.attach.target.address;
    assert.match(address, /^\/queue\/tmp\.amqp\./);
    assert.equal(await send(s, { body: 'to-temp' }), 'accepted');
    const r = await openReceiver(c, address);
    assert.deepEqual((await receive(r, 1)).map(body), ['to-temp']);
    const name = address.slice('/queue/'.length);
    await new Promise<void>((resolve) => { s.once('sender_close', () => resolve()); s.close(); });
    await eventually(() => h.broker.getQueue(name) === undefined);
    await close(c);
  });

  it('temporary queues go when their connection closes', async () => {
    const c = await connect(h.port);
    const s = await openSender(c, { target: { dynamic: true } } as rhea.SenderOptions);
    const name = (s as unknown as { remote: { attach: { target: { address: string } } } }).remote.attach.target.address.slice(7);
    assert.ok(h.broker.getQueue(name));
    await close(c);
    await eventually(() => h.broker.getQueue(name) === undefined);
  });
});

describe('amqp durable state across a broker restart', function () {
  const stores: Array<[string, () => { store: Store; reopen(): Store; cleanup(): void }]> = [
    ['MemoryStore', () => { const store = new MemoryStore(); return { store, reopen: () => store, cleanup: () => undefined }; }],
    ['FileStore', () => {
      const dir = mkdtempSync(join(tmpdir(), 'amqp-restart-'));
      const make = () => new FileStore({ dir, fsync: 'always' });
      return { store: make(), reopen: make, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
    }],
  ];
  for (const [name, makeStore] of stores) {
    it(`keeps durable subscriptions and queued durable messages (${name})`, async () => {
      const st = makeStore();
      try {
        let h = await startAmqp({}, { store: st.store });
        let c = await connect(h.port, { container_id: 'restart' });
        const r = await openReceiver(c, { name: 'dsub', source: durableSource('/topic/rs.#') });
        await detach(r);
        const s = await openSender(c, { target: {} });
        assert.equal(await send(s, { to: '/topic/rs.a', body: 'sub-1', durable: true }), 'accepted');
        assert.equal(await send(s, { to: '/topic/rs.b', body: 'sub-2', durable: true }), 'accepted');
        assert.equal(await send(s, { to: '/queue/rq', body: 'q-1', durable: true, application_properties: { n: 1, big: rhea.types.wrap_long(Buffer.from('1000000000000001', 'hex')) as never }, subject: 'kept' }), 'accepted');
        assert.equal(await send(s, { to: '/queue/rq', body: 'volatile', durable: false }), 'accepted');
        await close(c);
        await h.stop();

        h = await startAmqp({}, { store: st.reopen() });
        try {
          c = await connect(h.port, { container_id: 'restart' });
          const sub = await openReceiver(c, { name: 'dsub', source: durableSource('/topic/rs.#') });
          assert.deepEqual((await receive(sub, 2)).map(body), ['sub-1', 'sub-2']);
          const q = await openReceiver(c, '/queue/rq');
          const [m] = await receive(q, 1);
          assert.equal(body(m), 'q-1');
          assert.equal(m.message.durable, true);
          assert.equal(m.message.subject, 'kept');
          assert.equal(m.message.application_properties?.n, 1);
          assert.deepEqual(m.message.application_properties?.big, Buffer.from('1000000000000001', 'hex'));
          assert.equal(h.broker.getQueue('rq')?.messageCount, 0);
          await close(c);
        } finally {
          await h.stop();
        }
      } finally {
        st.cleanup();
      }
    });
  }
});
