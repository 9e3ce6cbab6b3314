/** Durable topic subscriptions (RabbitMQ and ActiveMQ styles) across a broker restart, and x-stream-offset. */
import assert from 'node:assert/strict';
import { StreamCursor } from '../../core/stream/stream-cursor.js';
import { eventually, removeTempDir, tempDir } from '../support/index.js';
import { RawStomp, startStomp, type StompBroker } from './helpers.js';

describe('STOMP durable subscriptions across a restart', function () {
  let dir: string;
  let s: StompBroker;
  before(() => { dir = tempDir('junction-stomp-'); });
  after(async () => {
    await s?.close();
    removeTempDir(dir);
  });

  async function restart(): Promise<void> {
    await s?.close();
    s = await startStomp({ dataDir: dir });
  }

  it('RabbitMQ style (durable:true, auto-delete:false, id; optional x-queue-name) and ActiveMQ style (client-id + subscription name)', async () => {
    await restart();
    const sub = await RawStomp.connect(s.port, { 'accept-version': '1.2', 'client-id': 'app-1' });
    await sub.sendWithReceipt('SUBSCRIBE', { id: 'news', destination: '/topic/news.*', durable: 'true', 'auto-delete': 'false', ack: 'client-individual' });
    await sub.sendWithReceipt('SUBSCRIBE', { id: 'named', destination: '/topic/named.#', durable: 'true', 'auto-delete': 'false', 'x-queue-name': 'my-durable-q' });
    await sub.sendWithReceipt('SUBSCRIBE', { id: 'amq', destination: '/topic/alerts', 'activemq.subscriptionName': 'alerts-sub' });
    await sub.sendWithReceipt('SUBSCRIBE', { id: 'artemis', destination: '/topic/alerts', 'durable-subscription-name': 'artemis-sub' });
    await sub.disconnect();
    for (const q of ['stomp.sub.news', 'my-durable-q', 'stomp.sub.app-1.alerts-sub', 'stomp.sub.app-1.artemis-sub']) {
      assert.equal(s.b.broker.getQueue(q)?.options.durable, true, q);
    }

    const pub = await RawStomp.connect(s.port);
    await pub.sendWithReceipt('SEND', { destination: '/topic/news.sport', persistent: 'true' }, 'while away 1');
    await pub.sendWithReceipt('SEND', { destination: '/topic/named.a.b', persistent: 'true' }, 'while away 2');
    await pub.sendWithReceipt('SEND', { destination: '/topic/alerts', persistent: 'true' }, 'while away 3');
    await pub.disconnect();

    await restart();
    const again = await RawStomp.connect(s.port, { 'accept-version': '1.2', 'client-id': 'app-1' });
    await again.sendWithReceipt('SUBSCRIBE', { id: 'news', destination: '/topic/news.*', durable: 'true', 'auto-delete': 'false', ack: 'client-individual' });
    const m1 = await again.expect('MESSAGE');
    assert.equal(m1.body.toString(), 'while away 1');
    assert.equal(m1.headers.destination, '/topic/news.sport');
    await again.sendWithReceipt('ACK', { id: m1.headers.ack });
    await again.sendWithReceipt('SUBSCRIBE', { id: 'named', destination: '/topic/named.#', durable: 'true', 'auto-delete': 'false', 'x-queue-name': 'my-durable-q' });
    assert.equal((await again.expect('MESSAGE')).body.toString(), 'while away 2');
    await again.sendWithReceipt('SUBSCRIBE', { id: 'amq', destination: '/topic/alerts', 'activemq.subscriptionName': 'alerts-sub' });
    assert.equal((await again.expect('MESSAGE')).body.toString(), 'while away 3');
    await again.sendWithReceipt('SUBSCRIBE', { id: 'artemis', destination: '/topic/alerts', 'durable-subscription-name': 'artemis-sub' });
    assert.equal((await again.expect('MESSAGE')).body.toString(), 'while away 3');

    // UNSUBSCRIBE with the durable headers deletes the subscription's queue; a plain one keeps it.
    await again.sendWithReceipt('UNSUBSCRIBE', { id: 'named' });
    assert.ok(s.b.broker.getQueue('my-durable-q'));
    await again.sendWithReceipt('UNSUBSCRIBE', { id: 'news', durable: 'true' });
    assert.equal(s.b.broker.getQueue('stomp.sub.news'), undefined);
    await again.sendWithReceipt('UNSUBSCRIBE', { id: 'amq', 'activemq.subscriptionName': 'alerts-sub' });
    assert.equal(s.b.broker.getQueue('stomp.sub.app-1.alerts-sub'), undefined);
    await again.sendWithReceipt('UNSUBSCRIBE', { id: 'artemis', 'durable-subscription-name': 'artemis-sub' });
    assert.equal(s.b.broker.getQueue('stomp.sub.app-1.artemis-sub'), undefined);
    await again.disconnect();
  });

  it('a durable subscription keeps unacknowledged messages across a restart', async () => {
    await restart();
    const c = await RawStomp.connect(s.port);
    await c.sendWithReceipt('SUBSCRIBE', { id: 'keep', destination: '/topic/keep.it', durable: 'true', 'auto-delete': 'false', ack: 'client-individual' });
    await c.sendWithReceipt('SEND', { destination: '/topic/keep.it', persistent: 'true' }, 'unacked');
    await c.expect('MESSAGE');
    c.destroy();
    await c.closed;
    await restart();
    const d = await RawStomp.connect(s.port);
    await d.sendWithReceipt('SUBSCRIBE', { id: 'keep', destination: '/topic/keep.it', durable: 'true', 'auto-delete': 'false', ack: 'client-individual' });
    const m = await d.expect('MESSAGE');
    assert.equal(m.body.toString(), 'unacked');
    await d.sendWithReceipt('ACK', { id: m.headers.ack });
    await d.sendWithReceipt('UNSUBSCRIBE', { id: 'keep', durable: 'true' });
    await d.disconnect();
  });

  it('ActiveMQ style needs client-id, and a client-id is held by one connection at a time', async () => {
    await restart();
    const c = await RawStomp.connect(s.port);
    c.send('SUBSCRIBE', { id: '1', destination: '/topic/x', 'activemq.subscriptionName': 'n' });
    assert.match((await c.expect('ERROR')).headers.message, /client-id/);
    await c.closed;
    const a = await RawStomp.connect(s.port, { 'accept-version': '1.2', 'client-id': 'solo' });
    const b = await RawStomp.open(s.port);
    b.send('CONNECT', { 'accept-version': '1.2', 'client-id': 'solo' });
    assert.match((await b.expect('ERROR')).headers.message, /client-id in use/);
    await a.disconnect();
    const b2 = await RawStomp.connect(s.port, { 'accept-version': '1.2', 'client-id': 'solo' });
    await b2.disconnect();
  });
});

describe('STOMP x-stream-offset on a stream (a Kafka topic)', function () {
  let s: StompBroker;
  const T = 'events.log';
  let t0 = 0;
  let tMid = 0;
  before(async () => {
    s = await startStomp();
    await s.b.broker.createStream(T, { partitions: 1 });
    const c = await RawStomp.connect(s.port);
    t0 = Date.now();
    for (let i = 0; i < 3; i++) await c.sendWithReceipt('SEND', { destination: `/topic/${T}`, 'x-app': `h${i}` }, `e${i}`);
    await new Promise((r) => setTimeout(r, 20));
    tMid = Date.now();
    await new Promise((r) => setTimeout(r, 5));
    for (let i = 3; i < 5; i++) await c.sendWithReceipt('SEND', { destination: `/topic/${T}` }, `e${i}`);
    await c.disconnect();
  });
  after(async () => { await s.close(); });

  async function read(offset: string, count: number, extra: Record<string, string> = {}): Promise<string[]> {
    const c = await RawStomp.connect(s.port);
    await c.sendWithReceipt('SUBSCRIBE', { id: 'r', destination: `/topic/${T}`, 'x-stream-offset': offset, ...extra });
    const out: string[] = [];
    for (let i = 0; i < count; i++) {
      const m = await c.expect('MESSAGE');
      out.push(`${m.headers['x-stream-offset']}:${m.body}`);
    }
    await c.quiet(100);
    await c.disconnect();
    return out;
  }

  it('first replays everything with x-stream-offset headers and the user headers', async () => {
    assert.deepEqual(await read('first', 5), ['0:e0', '1:e1', '2:e2', '3:e3', '4:e4']);
    const c = await RawStomp.connect(s.port);
    await c.sendWithReceipt('SUBSCRIBE', { id: 'r', destination: `/topic/${T}`, 'x-stream-offset': 'first' });
    const m = await c.expect('MESSAGE');
    assert.equal(m.headers['x-app'], 'h0');
    assert.equal(m.headers.destination, `/topic/${T}`);
    assert.equal(m.headers['x-stream-partition'], '0');
    await c.disconnect();
  });
  it('offset=N and a bare N start at that offset', async () => {
    assert.deepEqual(await read('offset=3', 2), ['3:e3', '4:e4']);
    assert.deepEqual(await read('4', 1), ['4:e4']);
  });
  it('last starts at the last record', async () => assert.deepEqual(await read('last', 1), ['4:e4']));
  it('timestamp=T (ms, or seconds as RabbitMQ) starts at the first record at or after T', async () => {
    assert.deepEqual(await read(`timestamp=${tMid}`, 2), ['3:e3', '4:e4']);
    assert.deepEqual(await read(`timestamp=${Math.floor(t0 / 1000) - 1}`, 5), ['0:e0', '1:e1', '2:e2', '3:e3', '4:e4']);
  });
  it('next waits for new records; a live SEND arrives', async () => {
    const c = await RawStomp.connect(s.port);
    await c.sendWithReceipt('SUBSCRIBE', { id: 'r', destination: `/queue/${T}`, 'x-stream-offset': 'next' });
    await c.quiet(100);
    const p = await RawStomp.connect(s.port);
    await p.sendWithReceipt('SEND', { destination: `/topic/${T}` }, 'live');
    const m = await c.expect('MESSAGE');
    assert.equal(m.body.toString(), 'live');
    assert.equal(m.headers['x-stream-offset'], '5');
    await p.disconnect();
    await c.disconnect();
  });
  it('ack modes apply: prefetch-count bounds the window until ACK', async () => {
    const c = await RawStomp.connect(s.port);
    await c.sendWithReceipt('SUBSCRIBE', { id: 'r', destination: `/topic/${T}`, 'x-stream-offset': 'first', ack: 'client', 'prefetch-count': '2' });
    const a = await c.expect('MESSAGE');
    const b = await c.expect('MESSAGE');
    await c.quiet(150);
    await c.sendWithReceipt('ACK', { id: b.headers.ack });
    assert.equal((await c.expect('MESSAGE')).body.toString(), 'e2');
    assert.equal(a.body.toString(), 'e0');
    await c.disconnect();
  });
  it('STOMP SEND to /topic/T is readable from the stream with a StreamCursor', async () => {
    const cursor = await StreamCursor.open(s.b.broker.getStream(T)!, 'first');
    const got = await cursor.poll(10);
    cursor.close();
    assert.deepEqual(got.slice(0, 5).map((m) => m.message.payload.toString()), ['e0', 'e1', 'e2', 'e3', 'e4']);
    assert.equal(got[0].message.headers['x-app'], 'h0');
  });
  it('x-stream-offset naming no stream is an error', async () => {
    const c = await RawStomp.connect(s.port);
    c.send('SUBSCRIBE', { id: 'r', destination: '/topic/not.a.stream', 'x-stream-offset': 'first' });
    assert.match((await c.expect('ERROR')).headers.message, /no stream/);
    await c.closed;
    await eventually(() => true);
  });
});
