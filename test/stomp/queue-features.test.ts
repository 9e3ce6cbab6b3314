/**
 * Queue priorities, browsing (browser:true), selectors and dead-lettering on expiry seen from STOMP clients
 * (@stomp/stompjs over WebSocket, raw TCP), with AMQP (rhea) on the other side for the cross-protocol order.
 */
import assert from 'node:assert/strict';
import rhea from 'rhea';
import { close as closeAmqp, connect as connectAmqp, openReceiver, receive } from '../amqp/helpers.js';
import { eventually, removeTempDir, tempDir } from '../support/index.js';
import { RawStomp, startStomp, stompjs, type StompBroker } from './helpers.js';

describe('STOMP queue priorities, browsing, selectors and expiry to the dead-letter queue', function () {
  let s: StompBroker;
  let n = 0;
  const uniq = (p: string) => `${p}.${++n}`;
  before(async () => { s = await startStomp({ protocols: ['stomp', 'amqp'] }); });
  after(async () => { await s.close(); });

  const bodiesOf = (ms: Array<{ message: rhea.Message }>) => ms.map((m) => Buffer.from((m.message.body as { content: Buffer }).content).toString());

  it('STOMP sends with priority headers; an AMQP receiver gets higher first, FIFO within one priority', async () => {
    const q = uniq('prio');
    const c = await stompjs(s.wsUrl);
    const sends: Array<[string, string | undefined]> = [['a-def', undefined], ['b-1', '1'], ['c-9', '9'], ['d-def', undefined], ['e-9', '9'], ['f-1', '1'], ['g-6', '6']];
    for (const [body, priority] of sends) c.publish({ destination: `/queue/${q}`, body, headers: priority ? { priority } : {} });
    await eventually(() => s.b.broker.getQueue(q)?.messageCount === sends.length, { what: 'messages queued' });
    await c.deactivate();
    const a = await connectAmqp(s.b.ports.amqp!);
    const r = await openReceiver(a, { source: `/queue/${q}`, autoaccept: true });
    const got = await receive(r, sends.length);
    assert.deepEqual(bodiesOf(got), ['c-9', 'e-9', 'g-6', 'a-def', 'd-def', 'b-1', 'f-1']);
    assert.deepEqual(got.map((m) => m.message.priority), [9, 9, 6, undefined, undefined, 1, 1]);
    await closeAmqp(a);
  });

  it('an AMQP sender\'s header.priority orders a STOMP subscriber\'s MESSAGEs, which carry the priority header', async () => {
    const q = uniq('prio-amqp');
    const a = await connectAmqp(s.b.ports.amqp!);
    const sender = a.open_sender({ target: `/queue/${q}` });
    await new Promise((r) => sender.once('sendable', r));
    for (const [body, priority] of [['low', 0], ['mid-a', 5], ['high', 8], ['mid-b', 5]] as const) sender.send({ body, priority });
    await eventually(() => s.b.broker.getQueue(q)?.messageCount === 4, { what: 'messages queued' });
    const c = await RawStomp.connect(s.port);
    await c.sendWithReceipt('SUBSCRIBE', { id: '1', destination: `/queue/${q}` });
    const frames = [await c.expect('MESSAGE'), await c.expect('MESSAGE'), await c.expect('MESSAGE'), await c.expect('MESSAGE')];
    assert.deepEqual(frames.map((f) => f.body.toString()), ['high', 'mid-a', 'mid-b', 'low']);
    assert.deepEqual(frames.map((f) => f.headers.priority), ['8', '5', '5', '0']);
    await c.disconnect();
    await closeAmqp(a);
  });

  it('priority order holds after a restart (file store)', async () => {
    const dir = tempDir();
    try {
      let b = await startStomp({ protocols: ['stomp', 'amqp'], dataDir: dir });
      const c = await RawStomp.connect(b.port);
      for (const [body, priority] of [['p2-a', '2'], ['p7-a', '7'], ['p2-b', '2'], ['p7-b', '7'], ['def', undefined]] as const) {
        await c.sendWithReceipt('SEND', { destination: '/queue/restart-prio', persistent: 'true', ...(priority ? { priority } : {}) }, body);
      }
      await c.disconnect();
      await b.close();
      b = await startStomp({ protocols: ['stomp', 'amqp'], dataDir: dir });
      try {
        const a = await connectAmqp(b.b.ports.amqp!);
        const r = await openReceiver(a, { source: '/queue/restart-prio', autoaccept: true });
        assert.deepEqual(bodiesOf(await receive(r, 5)), ['p7-a', 'p7-b', 'def', 'p2-a', 'p2-b']);
        await closeAmqp(a);
      } finally {
        await b.close();
      }
    } finally {
      removeTempDir(dir);
    }
  });

  it('browser:true shows the ready messages in delivery order, then a MESSAGE with browser:end and no body; nothing is taken', async () => {
    const q = uniq('browse');
    const c = await RawStomp.connect(s.port);
    for (const [body, priority] of [['one', '3'], ['two', '8'], ['three', '3']] as const) {
      await c.sendWithReceipt('SEND', { destination: `/queue/${q}`, priority, region: 'eu' }, body);
    }
    await c.sendWithReceipt('SUBSCRIBE', { id: 'b', destination: `/queue/${q}`, browser: 'true', ack: 'client' });
    const seen = [await c.expect('MESSAGE'), await c.expect('MESSAGE'), await c.expect('MESSAGE')];
    assert.deepEqual(seen.map((f) => f.body.toString()), ['two', 'one', 'three']);
    assert.ok(seen.every((f) => f.headers.subscription === 'b' && f.headers.region === 'eu' && f.headers.ack === undefined));
    const end = await c.expect('MESSAGE');
    assert.equal(end.headers.browser, 'end');
    assert.equal(end.headers.subscription, 'b');
    assert.equal(end.headers.destination, `/queue/${q}`);
    assert.equal(end.body.length, 0);
    await c.quiet();
    assert.equal(s.b.broker.getQueue(q)!.messageCount, 3, 'browsing took nothing');
    assert.equal(s.b.broker.getQueue(q)!.consumers.length, 0, 'a browser is not a consumer');
    // A consumer afterwards still gets every message.
    await c.sendWithReceipt('UNSUBSCRIBE', { id: 'b' });
    await c.sendWithReceipt('SUBSCRIBE', { id: 'take', destination: `/queue/${q}` });
    const taken = [await c.expect('MESSAGE'), await c.expect('MESSAGE'), await c.expect('MESSAGE')];
    assert.deepEqual(taken.map((f) => f.body.toString()), ['two', 'one', 'three']);
    await c.disconnect();
  });

  it('stompjs browses with browser:true and a selector: the matching messages, then the end marker', async () => {
    const q = uniq('browse-js');
    const client = await stompjs(s.wsUrl);
    for (const [body, kind] of [['a', 'x'], ['b', 'y'], ['c', 'x']] as const) client.publish({ destination: `/queue/${q}`, body, headers: { kind } });
    await eventually(() => s.b.broker.getQueue(q)?.messageCount === 3, { what: 'messages queued' });
    const seen: Array<{ body: string; end?: string }> = [];
    client.subscribe(`/queue/${q}`, (m) => seen.push({ body: m.body, end: m.headers.browser }), { browser: 'true', selector: "kind = 'x'" });
    await eventually(() => seen.some((m) => m.end === 'end'), { what: 'browser:end' });
    assert.deepEqual(seen, [{ body: 'a', end: undefined }, { body: 'c', end: undefined }, { body: '', end: 'end' }]);
    assert.equal(s.b.broker.getQueue(q)!.messageCount, 3);
    await client.deactivate();
  });

  it('browsing an empty queue gives browser:end at once; browsing a topic is an ERROR', async () => {
    const c = await RawStomp.connect(s.port);
    await c.sendWithReceipt('SUBSCRIBE', { id: 'e', destination: `/queue/${uniq('empty')}`, browser: 'true' });
    assert.equal((await c.expect('MESSAGE')).headers.browser, 'end');
    c.send('SUBSCRIBE', { id: 't', destination: '/topic/news', browser: 'true' });
    const err = await c.expect('ERROR');
    assert.match(err.headers.message, /browser:true needs a queue/);
    await c.closed;
  });

  it('deadLetterOnExpiry: an expired message reaches the DLQ subscriber with x-death-reason and x-original-queue', async () => {
    const q = uniq('expiring');
    await s.b.broker.declareQueue(q, { durable: true, deadLetterOnExpiry: true });
    const c = await RawStomp.connect(s.port);
    await c.sendWithReceipt('SEND', { destination: `/queue/${q}`, expires: String(Date.now() - 1000), persistent: 'true' }, 'too-late');
    await c.sendWithReceipt('SUBSCRIBE', { id: 'dlq', destination: `/queue/${q}.dlq` });
    await c.sendWithReceipt('SUBSCRIBE', { id: 'main', destination: `/queue/${q}` });
    const dead = await c.expect('MESSAGE');
    assert.equal(dead.headers.subscription, 'dlq');
    assert.equal(dead.body.toString(), 'too-late');
    assert.equal(dead.headers['x-death-reason'], 'expired');
    assert.equal(dead.headers['x-dead-letter-reason'], 'expired');
    assert.equal(dead.headers['x-original-queue'], q);
    assert.equal(dead.headers['x-delivery-count'], '0', 'never delivered before it expired');
    assert.equal(dead.headers.expires, undefined);
    const stats = s.b.broker.getQueue(q)!.stats;
    assert.equal(stats.expired, 1);
    assert.equal(stats.deadLettered, 1);
    await c.quiet();
    await c.disconnect();
  });
  it('selector on SUBSCRIBE: a queue subscriber gets what matches, the rest stays for the next subscriber', async () => {
    const q = uniq('sel');
    const c = await RawStomp.connect(s.port);
    for (const [body, region, priority] of [['eu-2', 'eu', '2'], ['us-8', 'us', '8'], ['eu-8', 'eu', '8'], ['eu-x', 'eu', '1']] as const) {
      await c.sendWithReceipt('SEND', { destination: `/queue/${q}`, region, priority, amount: body === 'eu-x' ? 'n/a' : '150' }, body);
    }
    await c.sendWithReceipt('SUBSCRIBE', { id: 'eu', destination: `/queue/${q}`, selector: "region = 'eu' AND amount > 100" });
    const eu = [await c.expect('MESSAGE'), await c.expect('MESSAGE')];
    assert.deepEqual(eu.map((f) => f.body.toString()), ['eu-8', 'eu-2']);
    await c.quiet();
    assert.equal(s.b.broker.getQueue(q)!.messageCount, 2);
    await c.sendWithReceipt('SUBSCRIBE', { id: 'any', destination: `/queue/${q}` });
    const rest = [await c.expect('MESSAGE'), await c.expect('MESSAGE')];
    assert.deepEqual(rest.map((f) => [f.headers.subscription, f.body.toString()]), [['any', 'us-8'], ['any', 'eu-x']]);
    await c.disconnect();
  });

  it('selector on a topic subscription (stompjs): only matching publishes arrive', async () => {
    const client = await stompjs(s.wsUrl);
    const got: string[] = [];
    await new Promise<void>((resolve) => {
      client.subscribe('/topic/alerts.#', (m) => got.push(m.body), { selector: "level IN ('high', 'critical')", receipt: 'sub-1' });
      client.watchForReceipt('sub-1', () => resolve());
    });
    for (const level of ['low', 'high', 'medium', 'critical']) client.publish({ destination: '/topic/alerts.disk', body: level, headers: { level } });
    await eventually(() => got.length === 2, { what: 'two alerts' });
    assert.deepEqual(got, ['high', 'critical']);
    await client.deactivate();
  });

  it('a bad selector is an ERROR frame naming the problem', async () => {
    const c = await RawStomp.connect(s.port);
    c.send('SUBSCRIBE', { id: '1', destination: `/queue/${uniq('bad-sel')}`, selector: "region = 'eu" });
    const err = await c.expect('ERROR');
    assert.match(err.headers.message, /invalid selector: unterminated string at position 9/);
    await c.closed;
  });
});
