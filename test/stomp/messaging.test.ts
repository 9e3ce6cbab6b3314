/** STOMP messaging over raw TCP: destinations, ack modes, NACK, prefetch, transactions, temp queues, flow control. */
import assert from 'node:assert/strict';
import { delay, RawStomp, startStomp, type StompBroker } from './helpers.js';
import { eventually } from '../support/index.js';

describe('STOMP messaging (TCP)', function () {
  let s: StompBroker;
  let n = 0;
  const uniq = (p: string) => `${p}.${++n}`;
  before(async () => { s = await startStomp(); });
  after(async () => { await s.close(); });

  describe('frames end to end', () => {
    it('a content-length body with NUL bytes and blank lines arrives byte for byte', async () => {
      const q = uniq('bin');
      const c = await RawStomp.connect(s.port);
      await c.sendWithReceipt('SUBSCRIBE', { id: '1', destination: `/queue/${q}` });
      const body = Buffer.from([0, 1, 0x0a, 0x0a, 0, 0xff, 0x0d, 0x0a, 0]);
      await c.sendWithReceipt('SEND', { destination: `/queue/${q}`, 'content-length': String(body.length), 'content-type': 'application/octet-stream' }, body);
      const m = await c.expect('MESSAGE');
      assert.deepEqual(m.body, body);
      assert.equal(m.headers['content-length'], String(body.length));
      assert.equal(m.headers['content-type'], 'application/octet-stream');
      await c.disconnect();
    });

    it('escaped headers and repeated headers (first wins) survive the trip', async () => {
      const q = uniq('esc');
      const c = await RawStomp.connect(s.port);
      await c.sendWithReceipt('SUBSCRIBE', { id: '1', destination: `/queue/${q}` });
      c.write(`SEND\ndestination:/queue/${q}\nk\\cey:a\\cb\\nc\\\\d\\re\nfoo:first\nfoo:second\n\nx\0`);
      const m = await c.expect('MESSAGE');
      assert.equal(m.headers['k:ey'], 'a:b\nc\\d\re');
      assert.equal(m.headers.foo, 'first');
      await c.disconnect();
    });

    it('MESSAGE carries destination, message-id, subscription, ack, user headers and the mapped fields', async () => {
      const q = uniq('fields');
      const c = await RawStomp.connect(s.port);
      await c.sendWithReceipt('SUBSCRIBE', { id: 'sub-x', destination: `/queue/${q}`, ack: 'client-individual' });
      const expires = String(Date.now() + 60_000);
      await c.sendWithReceipt('SEND', {
        destination: `/queue/${q}`, persistent: 'true', 'reply-to': '/queue/answers', 'correlation-id': 'corr-1',
        expires, priority: '6', 'x-app': 'yes', 'content-type': 'text/plain',
      }, 'hi');
      const m = await c.expect('MESSAGE');
      assert.equal(m.headers.destination, `/queue/${q}`);
      assert.equal(m.headers.subscription, 'sub-x');
      assert.ok(m.headers['message-id']);
      assert.equal(m.headers.ack, m.headers['message-id']);
      assert.equal(m.headers.persistent, 'true');
      assert.equal(m.headers['reply-to'], '/queue/answers');
      assert.equal(m.headers['correlation-id'], 'corr-1');
      assert.equal(m.headers.expires, expires);
      assert.equal(m.headers.priority, '6');
      assert.equal(m.headers['x-app'], 'yes');
      assert.equal(m.headers['content-type'], 'text/plain');
      assert.equal(m.headers.redelivered, undefined);
      await c.sendWithReceipt('ACK', { id: m.headers.ack });
      await c.disconnect();
    });

    it('message ids are unique per delivery', async () => {
      const q = uniq('ids');
      const c = await RawStomp.connect(s.port);
      await c.sendWithReceipt('SUBSCRIBE', { id: '1', destination: `/queue/${q}` });
      for (let i = 0; i < 20; i++) c.send('SEND', { destination: `/queue/${q}` }, String(i));
      const ids = new Set<string>();
      for (let i = 0; i < 20; i++) ids.add((await c.expect('MESSAGE')).headers['message-id']);
      assert.equal(ids.size, 20);
      await c.disconnect();
    });

    it('an expired message (expires in the past) is not delivered', async () => {
      const q = uniq('exp');
      const c = await RawStomp.connect(s.port);
      await c.sendWithReceipt('SEND', { destination: `/queue/${q}`, expires: String(Date.now() - 1000) }, 'old');
      await c.sendWithReceipt('SEND', { destination: `/queue/${q}` }, 'fresh');
      await c.sendWithReceipt('SUBSCRIBE', { id: '1', destination: `/queue/${q}` });
      assert.equal((await c.expect('MESSAGE')).body.toString(), 'fresh');
      await c.quiet();
      await c.disconnect();
    });
  });

  describe('destinations', () => {
    it('/queue/NAME declares a durable queue; SEND persistent:true stores a durable message', async () => {
      const q = uniq('jobs');
      const c = await RawStomp.connect(s.port);
      await c.sendWithReceipt('SEND', { destination: `/queue/${q}`, persistent: 'true' }, 'job');
      const queue = s.b.broker.getQueue(q)!;
      assert.equal(queue.options.durable, true);
      assert.equal(queue.messageCount, 1);
      assert.equal(queue.peekEntries(1)[0].persisted, true);
      await c.disconnect();
    });

    it('/queue/NAME: competing consumers get one copy each message', async () => {
      const q = uniq('compete');
      const a = await RawStomp.connect(s.port);
      const b = await RawStomp.connect(s.port);
      await a.sendWithReceipt('SUBSCRIBE', { id: '1', destination: `/queue/${q}` });
      await b.sendWithReceipt('SUBSCRIBE', { id: '1', destination: `/queue/${q}` });
      for (let i = 0; i < 10; i++) a.send('SEND', { destination: `/queue/${q}` }, String(i));
      await eventually(() => a.frames.length + b.frames.length === 10, { what: '10 messages' });
      assert.equal(a.frames.length, 5);
      assert.equal(b.frames.length, 5);
      await a.disconnect();
      await b.disconnect();
    });

    it('/topic/ with * and #: every matching subscription gets a copy, MESSAGE names the real topic', async () => {
      const p = uniq('t');
      const c = await RawStomp.connect(s.port);
      await c.sendWithReceipt('SUBSCRIBE', { id: 'star', destination: `/topic/${p}.*.temp` });
      await c.sendWithReceipt('SUBSCRIBE', { id: 'hash', destination: `/topic/${p}.#` });
      await c.sendWithReceipt('SUBSCRIBE', { id: 'exact', destination: `/topic/${p}.room1.temp` });
      await c.sendWithReceipt('SEND', { destination: `/topic/${p}.room1.temp` }, '21');
      await c.sendWithReceipt('SEND', { destination: `/topic/${p}.room1.hum` }, '40');
      await eventually(() => c.frames.filter((f) => f.command === 'MESSAGE').length === 4, { what: '4 copies' });
      const got = c.frames.filter((f) => f.command === 'MESSAGE').map((f) => `${f.headers.subscription}:${f.headers.destination}:${f.body}`).sort();
      assert.deepEqual(got, [
        `exact:/topic/${p}.room1.temp:21`, `hash:/topic/${p}.room1.hum:40`, `hash:/topic/${p}.room1.temp:21`, `star:/topic/${p}.room1.temp:21`,
      ]);
      await c.disconnect();
    });

    it('a transient topic subscription is a queue deleted with the subscription', async () => {
      const p = uniq('transient');
      const c = await RawStomp.connect(s.port);
      await c.sendWithReceipt('SUBSCRIBE', { id: '1', destination: `/topic/${p}` });
      const names = () => [...s.b.broker.queues()].filter((q) => s.b.broker.bindingsOf(q.name).some((b) => b.pattern === p)).map((q) => q.name);
      assert.equal(names().length, 1);
      assert.match(names()[0], /^tmp\.stomp\./);
      const q = s.b.broker.getQueue(names()[0])!;
      assert.equal(q.options.durable, false);
      assert.equal(q.options.autoDelete, true);
      await c.sendWithReceipt('UNSUBSCRIBE', { id: '1' });
      await eventually(() => names().length === 0, { what: 'subscription queue deleted' });
      await c.disconnect();
    });

    it('/amq/queue/NAME uses an existing queue', async () => {
      const q = uniq('existing');
      await s.b.broker.declareQueue(q, { durable: true });
      const c = await RawStomp.connect(s.port);
      await c.sendWithReceipt('SUBSCRIBE', { id: '1', destination: `/amq/queue/${q}` });
      await c.sendWithReceipt('SEND', { destination: `/amq/queue/${q}` }, 'x');
      assert.equal((await c.expect('MESSAGE')).headers.destination, `/amq/queue/${q}`);
      c.send('SUBSCRIBE', { id: '2', destination: '/amq/queue/does-not-exist' });
      assert.match((await c.expect('ERROR')).headers.message, /no queue/);
      await c.closed;
    });
  });

  describe('acknowledgements', () => {
    it('ack:auto settles on send', async () => {
      const q = uniq('auto');
      const c = await RawStomp.connect(s.port);
      await c.sendWithReceipt('SUBSCRIBE', { id: '1', destination: `/queue/${q}` });
      await c.sendWithReceipt('SEND', { destination: `/queue/${q}` }, 'x');
      const m = await c.expect('MESSAGE');
      assert.equal(m.headers.ack, undefined);
      assert.equal(s.b.broker.getQueue(q)!.unackedMessageCount, 0);
      await c.disconnect();
    });

    it('ack:client is cumulative', async () => {
      const q = uniq('client');
      const c = await RawStomp.connect(s.port);
      await c.sendWithReceipt('SUBSCRIBE', { id: '1', destination: `/queue/${q}`, ack: 'client' });
      for (let i = 0; i < 3; i++) c.send('SEND', { destination: `/queue/${q}` }, String(i));
      const ms = [await c.expect('MESSAGE'), await c.expect('MESSAGE'), await c.expect('MESSAGE')];
      assert.equal(s.b.broker.getQueue(q)!.unackedMessageCount, 3);
      await c.sendWithReceipt('ACK', { id: ms[1].headers.ack });
      assert.equal(s.b.broker.getQueue(q)!.unackedMessageCount, 1);
      await c.sendWithReceipt('ACK', { id: ms[2].headers.ack });
      assert.equal(s.b.broker.getQueue(q)!.unackedMessageCount, 0);
      await c.disconnect();
    });

    it('ack:client-individual settles one message', async () => {
      const q = uniq('individual');
      const c = await RawStomp.connect(s.port);
      await c.sendWithReceipt('SUBSCRIBE', { id: '1', destination: `/queue/${q}`, ack: 'client-individual' });
      for (let i = 0; i < 3; i++) c.send('SEND', { destination: `/queue/${q}` }, String(i));
      const ms = [await c.expect('MESSAGE'), await c.expect('MESSAGE'), await c.expect('MESSAGE')];
      await c.sendWithReceipt('ACK', { id: ms[2].headers.ack });
      assert.equal(s.b.broker.getQueue(q)!.unackedMessageCount, 2);
      await c.disconnect();
      // Unacknowledged messages go back to the queue when the connection ends.
      await eventually(() => s.b.broker.getQueue(q)!.messageCount === 2, { what: 'requeued' });
    });

    it('STOMP 1.1: ACK with message-id and subscription (no ack header on MESSAGE)', async () => {
      const q = uniq('v11');
      const c = await RawStomp.connect(s.port, { 'accept-version': '1.1', host: '/' });
      await c.sendWithReceipt('SUBSCRIBE', { id: 's1', destination: `/queue/${q}`, ack: 'client-individual' });
      await c.sendWithReceipt('SEND', { destination: `/queue/${q}` }, 'x');
      const m = await c.expect('MESSAGE');
      assert.equal(m.headers.ack, undefined);
      await c.sendWithReceipt('ACK', { 'message-id': m.headers['message-id'], subscription: 's1' });
      assert.equal(s.b.broker.getQueue(q)!.unackedMessageCount, 0);
      await c.disconnect();
    });

    it('STOMP 1.0: SUBSCRIBE without id, ACK with message-id', async () => {
      const q = uniq('v10');
      const c = await RawStomp.connect(s.port, {});
      await c.sendWithReceipt('SUBSCRIBE', { destination: `/queue/${q}`, ack: 'client' });
      await c.sendWithReceipt('SEND', { destination: `/queue/${q}` }, 'x');
      const m = await c.expect('MESSAGE');
      assert.equal(m.headers.subscription, `/queue/${q}`);
      await c.sendWithReceipt('ACK', { 'message-id': m.headers['message-id'] });
      assert.equal(s.b.broker.getQueue(q)!.unackedMessageCount, 0);
      await c.sendWithReceipt('UNSUBSCRIBE', { destination: `/queue/${q}` });
      await c.disconnect();
    });

    it('NACK redelivers to another consumer, marked redelivered', async () => {
      const q = uniq('nack');
      const a = await RawStomp.connect(s.port);
      const b = await RawStomp.connect(s.port);
      await a.sendWithReceipt('SUBSCRIBE', { id: '1', destination: `/queue/${q}`, ack: 'client-individual', 'prefetch-count': '1' });
      await b.sendWithReceipt('SUBSCRIBE', { id: '1', destination: `/queue/${q}`, ack: 'client-individual', 'prefetch-count': '1' });
      await a.sendWithReceipt('SEND', { destination: `/queue/${q}` }, 'work');
      await eventually(() => a.frames.length + b.frames.length === 1, { what: 'first delivery' });
      const [first, other] = a.frames.length === 1 ? [a, b] : [b, a];
      const m = await first.expect('MESSAGE');
      await first.sendWithReceipt('NACK', { id: m.headers.ack });
      const again = await other.expect('MESSAGE');
      assert.equal(again.body.toString(), 'work');
      assert.equal(again.headers.redelivered, 'true');
      await first.quiet(100);
      await a.disconnect();
      await b.disconnect();
    });

    it('NACK past the queue\'s maxDeliveries dead-letters the message', async () => {
      const q = uniq('dlq');
      await s.b.broker.declareQueue(q, { durable: true, maxDeliveries: 2 });
      const c = await RawStomp.connect(s.port);
      await c.sendWithReceipt('SUBSCRIBE', { id: '1', destination: `/queue/${q}`, ack: 'client-individual' });
      await c.sendWithReceipt('SEND', { destination: `/queue/${q}`, persistent: 'true' }, 'poison');
      await c.sendWithReceipt('NACK', { id: (await c.expect('MESSAGE')).headers.ack });
      const second = await c.expect('MESSAGE');
      assert.equal(second.headers.redelivered, 'true');
      await c.sendWithReceipt('NACK', { id: second.headers.ack });
      await c.quiet(100);
      const dlq = s.b.broker.getQueue(`${q}.dlq`)!;
      assert.equal(dlq.messageCount, 1);
      await c.sendWithReceipt('SUBSCRIBE', { id: '2', destination: `/queue/${q}.dlq` });
      const dead = await c.expect('MESSAGE');
      assert.equal(dead.body.toString(), 'poison');
      assert.equal(dead.headers['x-original-queue'], q);
      await c.disconnect();
    });

    it('prefetch-count bounds unacknowledged messages per subscription', async () => {
      const q = uniq('prefetch');
      const c = await RawStomp.connect(s.port);
      for (let i = 0; i < 5; i++) c.send('SEND', { destination: `/queue/${q}` }, String(i));
      await c.sendWithReceipt('SUBSCRIBE', { id: '1', destination: `/queue/${q}`, ack: 'client-individual', 'prefetch-count': '2' });
      await eventually(() => c.frames.length === 2, { what: 'two messages' });
      await delay(100);
      assert.equal(c.frames.length, 2);
      await c.sendWithReceipt('ACK', { id: c.frames.shift()!.headers.ack });
      await c.expect('MESSAGE');
      assert.equal(c.frames.length, 1);
      await c.disconnect();
    });

    it('activemq.prefetchSize works as prefetch-count', async () => {
      const q = uniq('amqprefetch');
      const c = await RawStomp.connect(s.port);
      for (let i = 0; i < 4; i++) c.send('SEND', { destination: `/queue/${q}` }, String(i));
      await c.sendWithReceipt('SUBSCRIBE', { id: '1', destination: `/queue/${q}`, ack: 'client', 'activemq.prefetchSize': '1' });
      await c.expect('MESSAGE');
      await c.quiet(100);
      await c.disconnect();
    });
  });

  describe('transactions', () => {
    it('SENDs in a transaction are delivered on COMMIT only', async () => {
      const q = uniq('txsend');
      const c = await RawStomp.connect(s.port);
      await c.sendWithReceipt('SUBSCRIBE', { id: '1', destination: `/queue/${q}` });
      await c.sendWithReceipt('BEGIN', { transaction: 'tx1' });
      await c.sendWithReceipt('SEND', { destination: `/queue/${q}`, transaction: 'tx1', persistent: 'true' }, 'a');
      await c.sendWithReceipt('SEND', { destination: `/topic/${q}.t`, transaction: 'tx1' }, 'b');
      await c.quiet(100);
      await c.sendWithReceipt('COMMIT', { transaction: 'tx1' });
      assert.equal((await c.expect('MESSAGE')).body.toString(), 'a');
      await c.disconnect();
    });

    it('ABORT discards the transaction\'s SENDs', async () => {
      const q = uniq('txabort');
      const c = await RawStomp.connect(s.port);
      await c.sendWithReceipt('SUBSCRIBE', { id: '1', destination: `/queue/${q}` });
      await c.sendWithReceipt('BEGIN', { transaction: 'tx' });
      await c.sendWithReceipt('SEND', { destination: `/queue/${q}`, transaction: 'tx' }, 'never');
      await c.sendWithReceipt('ABORT', { transaction: 'tx' });
      await c.sendWithReceipt('SEND', { destination: `/queue/${q}` }, 'after');
      assert.equal((await c.expect('MESSAGE')).body.toString(), 'after');
      await c.quiet(100);
      await c.disconnect();
    });

    it('ACKs in a transaction apply on COMMIT', async () => {
      const q = uniq('txack');
      const c = await RawStomp.connect(s.port);
      await c.sendWithReceipt('SUBSCRIBE', { id: '1', destination: `/queue/${q}`, ack: 'client-individual' });
      await c.sendWithReceipt('SEND', { destination: `/queue/${q}`, persistent: 'true' }, 'x');
      const m = await c.expect('MESSAGE');
      await c.sendWithReceipt('BEGIN', { transaction: 't' });
      await c.sendWithReceipt('ACK', { id: m.headers.ack, transaction: 't' });
      assert.equal(s.b.broker.getQueue(q)!.unackedMessageCount, 1);
      await c.sendWithReceipt('COMMIT', { transaction: 't' });
      assert.equal(s.b.broker.getQueue(q)!.unackedMessageCount, 0);
      await c.disconnect();
      assert.equal(s.b.broker.getQueue(q)!.messageCount, 0);
    });

    it('ABORT leaves transactional ACKs undone: the message is redelivered to the next consumer', async () => {
      const q = uniq('txackabort');
      const a = await RawStomp.connect(s.port);
      await a.sendWithReceipt('SUBSCRIBE', { id: '1', destination: `/queue/${q}`, ack: 'client-individual' });
      await a.sendWithReceipt('SEND', { destination: `/queue/${q}`, persistent: 'true' }, 'keep me');
      const m = await a.expect('MESSAGE');
      await a.sendWithReceipt('BEGIN', { transaction: 't' });
      await a.sendWithReceipt('ACK', { id: m.headers.ack, transaction: 't' });
      await a.sendWithReceipt('ABORT', { transaction: 't' });
      assert.equal(s.b.broker.getQueue(q)!.unackedMessageCount, 1);
      await a.disconnect();
      const b = await RawStomp.connect(s.port);
      await b.sendWithReceipt('SUBSCRIBE', { id: '1', destination: `/queue/${q}`, ack: 'client-individual' });
      const again = await b.expect('MESSAGE');
      assert.equal(again.body.toString(), 'keep me');
      assert.equal(again.headers.redelivered, 'true');
      await b.disconnect();
    });

    it('NACK in a transaction applies on COMMIT; client (cumulative) ACK in a transaction', async () => {
      const q = uniq('txnack');
      const c = await RawStomp.connect(s.port);
      await c.sendWithReceipt('SUBSCRIBE', { id: '1', destination: `/queue/${q}`, ack: 'client' });
      for (let i = 0; i < 3; i++) c.send('SEND', { destination: `/queue/${q}` }, String(i));
      const ms = [await c.expect('MESSAGE'), await c.expect('MESSAGE'), await c.expect('MESSAGE')];
      await c.sendWithReceipt('BEGIN', { transaction: 't' });
      await c.sendWithReceipt('ACK', { id: ms[1].headers.ack, transaction: 't' });
      await c.sendWithReceipt('COMMIT', { transaction: 't' });
      assert.equal(s.b.broker.getQueue(q)!.unackedMessageCount, 1);
      await c.sendWithReceipt('BEGIN', { transaction: 't2' });
      await c.sendWithReceipt('NACK', { id: ms[2].headers.ack, transaction: 't2' });
      await c.quiet(50);
      await c.sendWithReceipt('COMMIT', { transaction: 't2' });
      const again = await c.expect('MESSAGE');
      assert.equal(again.body.toString(), '2');
      assert.equal(again.headers.redelivered, 'true');
      await c.disconnect();
    });

    it('an open transaction is aborted when the connection ends', async () => {
      const q = uniq('txdrop');
      const c = await RawStomp.connect(s.port);
      await c.sendWithReceipt('BEGIN', { transaction: 't' });
      await c.sendWithReceipt('SEND', { destination: `/queue/${q}`, transaction: 't' }, 'x');
      await c.disconnect();
      assert.equal(s.b.broker.getQueue(q)?.messageCount ?? 0, 0);
    });
  });

  describe('temp queues', () => {
    it('request/reply: reply-to /temp-queue/NAME is rewritten to the core form and answers come back', async () => {
      const svc = uniq('svc');
      const requester = await RawStomp.connect(s.port);
      const responder = await RawStomp.connect(s.port);
      await responder.sendWithReceipt('SUBSCRIBE', { id: 'in', destination: `/queue/${svc}` });
      await requester.sendWithReceipt('SUBSCRIBE', { id: 'replies', destination: '/temp-queue/answers' });
      await requester.sendWithReceipt('SEND', { destination: `/queue/${svc}`, 'reply-to': '/temp-queue/answers', 'correlation-id': 'q1' }, 'ping');
      const req = await responder.expect('MESSAGE');
      assert.match(req.headers['reply-to'], /^\/queue\/tmp\.stomp\.c\d+\.\d+$/);
      await responder.sendWithReceipt('SEND', { destination: req.headers['reply-to'], 'correlation-id': req.headers['correlation-id'] }, 'pong');
      const reply = await requester.expect('MESSAGE');
      assert.equal(reply.body.toString(), 'pong');
      assert.equal(reply.headers.subscription, 'replies');
      assert.equal(reply.headers['correlation-id'], 'q1');
      const real = req.headers['reply-to'].slice('/queue/'.length);
      const tmp = s.b.broker.getQueue(real)!;
      assert.equal(tmp.options.durable, false);
      assert.ok(tmp.options.exclusiveOwner);
      // Private: another connection cannot consume it.
      responder.send('SUBSCRIBE', { id: 'steal', destination: req.headers['reply-to'] });
      assert.match((await responder.expect('ERROR')).headers.message, /exclusive/);
      await requester.disconnect();
      await eventually(() => s.b.broker.getQueue(real) === undefined, { what: 'temp queue deleted with its connection' });
      // A late reply to the gone temp queue is dropped (receipted), not declared as a new queue.
      const late = await RawStomp.connect(s.port);
      await late.sendWithReceipt('SEND', { destination: req.headers['reply-to'] }, 'too late');
      assert.equal(s.b.broker.getQueue(real), undefined);
      await late.disconnect();
    });

    it('RabbitMQ style: a reply to a temp queue nobody subscribed arrives as subscription /temp-queue/NAME', async () => {
      const svc = uniq('svc2');
      const requester = await RawStomp.connect(s.port);
      const responder = await RawStomp.connect(s.port);
      await responder.sendWithReceipt('SUBSCRIBE', { id: 'in', destination: `/queue/${svc}` });
      await requester.sendWithReceipt('SEND', { destination: `/queue/${svc}`, 'reply-to': '/temp-queue/r' }, 'ping');
      const req = await responder.expect('MESSAGE');
      await responder.sendWithReceipt('SEND', { destination: req.headers['reply-to'] }, 'pong');
      const reply = await requester.expect('MESSAGE');
      assert.equal(reply.headers.subscription, '/temp-queue/r');
      assert.equal(reply.body.toString(), 'pong');
      await requester.disconnect();
      await responder.disconnect();
    });
  });

  describe('flow control', () => {
    it('a slow reader pauses its subscription: the queue keeps the rest until the socket drains', async () => {
      const q = uniq('slow');
      const reader = await RawStomp.connect(s.port);
      await reader.sendWithReceipt('SUBSCRIBE', { id: '1', destination: `/queue/${q}` });
      reader.socket.pause();
      const writer = await RawStomp.connect(s.port);
      const body = 'x'.repeat(4096);
      const total = 2000;
      for (let i = 0; i < total; i++) writer.send('SEND', { destination: `/queue/${q}` }, body);
      await writer.sendWithReceipt('SEND', { destination: `/queue/${q}` }, 'last');
      await eventually(() => (s.b.broker.getQueue(q)?.messageCount ?? 0) > 0, { what: 'messages held in the queue' });
      assert.ok(s.b.broker.getQueue(q)!.messageCount > 0);
      reader.socket.resume();
      await eventually(() => reader.frames.length === total + 1, { timeout: 20000, what: 'every message' });
      await reader.disconnect();
      await writer.disconnect();
    });

    it('receipts wait while a bounded queue is full (overflow block), then arrive once it drains', async () => {
      const q = uniq('bounded');
      await s.b.broker.declareQueue(q, { durable: true, maxLength: 5, overflow: 'block' });
      const c = await RawStomp.connect(s.port);
      for (let i = 0; i < 10; i++) c.send('SEND', { destination: `/queue/${q}`, receipt: `r${i}` }, String(i));
      await eventually(() => c.frames.length >= 5, { what: 'receipts for the first messages' });
      await c.quiet(100).catch(() => undefined);
      const before = c.frames.filter((f) => f.command === 'RECEIPT').length;
      assert.ok(before < 10, `some receipts withheld (${before})`);
      const consumer = await RawStomp.connect(s.port);
      await consumer.sendWithReceipt('SUBSCRIBE', { id: '1', destination: `/queue/${q}` });
      await eventually(() => c.frames.filter((f) => f.command === 'RECEIPT').length === 10, { what: 'all receipts' });
      await c.disconnect();
      await consumer.disconnect();
    });
  });

  it('UNSUBSCRIBE of an unknown id is an error; frames after DISCONNECT are ignored', async () => {
    const c = await RawStomp.connect(s.port);
    c.send('UNSUBSCRIBE', { id: 'nope' });
    assert.match((await c.expect('ERROR')).headers.message, /no subscription/);
    await c.closed;
    const d = await RawStomp.connect(s.port);
    d.write('DISCONNECT\nreceipt:x\n\n\0SEND\ndestination:/queue/after-disconnect\n\nx\0');
    await d.expect('RECEIPT');
    await d.closed;
    await delay(20);
    assert.equal(s.b.broker.getQueue('after-disconnect'), undefined);
  });
});
