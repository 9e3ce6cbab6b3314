/**
 * Producer and consumer links with rhea as the client: address forms, refusals, credit and
 * end-to-end flow control, settlement modes, outcomes, drain, message size.
 */
import assert from 'node:assert/strict';
import rhea from 'rhea';
import {
  close, connect, drain, openReceiver, openSender, receive, refusal, send, sendable, startAmqp, tick,
  type Harness,
} from './helpers.js';
import { eventually } from '../support/index.js';

const body = (r: { message: rhea.Message }) => r.message.body as unknown;

describe('amqp links', function () {
  let h: Harness;
  let c: rhea.Connection;
  beforeEach(async () => {
    h = await startAmqp({ creditWindow: 10 });
    c = await connect(h.port);
  });
  afterEach(async () => {
    await close(c);
    await h.stop();
  });

  describe('addresses', () => {
    for (const [address, queue] of [['/queue/q1', 'q1'], ['queue://q2', 'q2'], ['q3', 'q3']] as const) {
      it(`${address} names queue ${queue} (created on first use)`, async () => {
        const s = await openSender(c, address);
        assert.equal(await send(s, { body: 'x' }), 'accepted');
        assert.equal(h.broker.getQueue(queue)?.messageCount, 1);
        const r = await openReceiver(c, address);
        const [m] = await receive(r, 1);
        assert.equal(body(m), 'x');
      });
    }

    it('/queues/NAME (RabbitMQ 4) names an existing queue, percent-decoded', async () => {
      await h.broker.declareQueue('orders eu', { durable: true });
      const s = await openSender(c, '/queues/orders%20eu');
      assert.equal(await send(s, { body: 'o' }), 'accepted');
      assert.equal(h.broker.getQueue('orders eu')?.messageCount, 1);
    });

    it('/queues/NAME that does not exist is amqp:not-found', async () => {
      assert.equal(await refusal(openSender(c, '/queues/missing')), 'amqp:not-found');
      assert.equal(await refusal(openReceiver(c, '/queues/missing')), 'amqp:not-found');
    });

    it('an unknown address form is amqp:not-found', async () => {
      assert.equal(await refusal(openSender(c, '/bogus/x')), 'amqp:not-found');
      assert.equal(await refusal(openReceiver(c, '/bogus/x')), 'amqp:not-found');
    });

    for (const address of ['/topic/t.a', 'topic://t.a', '/exchanges/amq.topic/t.a']) {
      it(`${address} publishes to topic t.a`, async () => {
        const r = await openReceiver(c, '/topic/t.*');
        const got = receive(r, 1);
        const s = await openSender(c, address);
        assert.equal(await send(s, { body: 'topic' }), 'accepted');
        assert.equal(body((await got)[0]), 'topic');
      });
    }

    it('a bare name with the topic capability (Qpid JMS) is a topic', async () => {
      const r = await openReceiver(c, { source: { address: 'jms.t', capabilities: ['topic'] } } as rhea.ReceiverOptions);
      const got = receive(r, 1);
      const s = await openSender(c, { target: { address: 'jms.t', capabilities: ['topic'] } } as rhea.SenderOptions);
      await send(s, { body: 'jms' });
      assert.equal(body((await got)[0]), 'jms');
      assert.equal(h.broker.getQueue('jms.t'), undefined);
    });

    it('the anonymous relay routes by properties.to (queue and topic forms)', async () => {
      const r = await openReceiver(c, '/topic/relay.x');
      const got = receive(r, 1);
      const s = await openSender(c, { target: {} });
      assert.equal(await send(s, { to: '/queue/relayq', body: 'q' }), 'accepted');
      assert.equal(await send(s, { to: 'topic://relay.x', body: 't' }), 'accepted');
      assert.equal(h.broker.getQueue('relayq')?.messageCount, 1);
      assert.equal(body((await got)[0]), 't');
    });

    it('the anonymous relay rejects unknown addresses and messages without to', async () => {
      const s = await openSender(c, { target: {} });
      assert.equal(await send(s, { to: '/queues/nope', body: 'x' }), 'rejected:amqp:not-found');
      assert.equal(await send(s, { body: 'x' }), 'rejected:amqp:not-found');
      assert.equal(await send(s, { to: '/queue/ok', body: 'y' }), 'accepted');
    });

    it('wildcards are refused on producer links (amqp:invalid-field)', async () => {
      assert.equal(await refusal(openSender(c, '/topic/a.*')), 'amqp:invalid-field');
    });
  });

  describe('configured address policies', () => {
    it('autoCreateQueues=false: a missing /queue/NAME is amqp:not-found', async () => {
      const h2 = await startAmqp({ autoCreateQueues: false });
      const c2 = await connect(h2.port);
      try {
        assert.equal(await refusal(openSender(c2, '/queue/nope')), 'amqp:not-found');
        await h2.broker.declareQueue('yes');
        await openSender(c2, '/queue/yes');
      } finally {
        await close(c2);
        await h2.stop();
      }
    });

    it('bareName=topic and bareName=refuse', async () => {
      const h2 = await startAmqp({ bareName: 'topic' });
      const h3 = await startAmqp({ bareName: 'refuse' });
      const c2 = await connect(h2.port);
      const c3 = await connect(h3.port);
      try {
        const r = await openReceiver(c2, 'bare.t');
        const got = receive(r, 1);
        await send(await openSender(c2, 'bare.t'), { body: 'b' });
        assert.equal(body((await got)[0]), 'b');
        assert.equal(await refusal(openSender(c3, 'bare')), 'amqp:not-found');
      } finally {
        await close(c2);
        await close(c3);
        await h2.stop();
        await h3.stop();
      }
    });

    it('unauthorised addresses are amqp:unauthorized-access', async () => {
      const auth = { rules: [{ user: '*', deny: ['publish', 'consume', 'subscribe'], address: 'secret.#' }, { user: '*', allow: ['publish', 'consume', 'subscribe'], address: '#' }] };
      const h2 = await startAmqp({}, { auth });
      const c2 = await connect(h2.port);
      try {
        assert.equal(await refusal(openSender(c2, '/queue/secret.q')), 'amqp:unauthorized-access');
        assert.equal(await refusal(openReceiver(c2, '/queue/secret.q')), 'amqp:unauthorized-access');
        assert.equal(await refusal(openReceiver(c2, '/topic/secret.#')), 'amqp:unauthorized-access');
        const relay = await openSender(c2, { target: {} });
        assert.equal(await send(relay, { to: '/topic/secret.x', body: 'no' }), 'rejected:amqp:unauthorized-access');
        assert.equal(await send(relay, { to: '/topic/public.x', body: 'yes' }), 'accepted');
      } finally {
        await close(c2);
        await h2.stop();
      }
    });
  });

  describe('producer credit and settlement', () => {
    it('grants the credit window and replenishes as the core accepts', async () => {
      const s = await openSender(c, '/queue/credit');
      await sendable(s);
      assert.equal((s as unknown as { credit: number }).credit, 10);
      const outcomes = await Promise.all(Array.from({ length: 25 }, (_, i) => send(s, { body: `m${i}` })));
      assert.ok(outcomes.every((o) => o === 'accepted'));
      assert.equal(h.broker.getQueue('credit')?.messageCount, 25);
    });

    it('a blocked queue withholds credit (end-to-end flow control)', async () => {
      await h.broker.declareQueue('slow', { maxLength: 5, overflow: 'block' });
      const s = await openSender(c, '/queue/slow');
      s.setMaxListeners(100);
      await sendable(s);
      const q = h.broker.getQueue('slow')!;
      const total = 40;
      let accepted = 0;
      // rhea queues transfers beyond the credit on the client side; the broker only sees what its credit allows.
      const outcomes = Array.from({ length: total }, (_, i) => send(s, { body: `b${i}` }).then((o) => { if (o === 'accepted') accepted++; return o; }));
      // 5 fit in the queue; up to 10 more (the window, topped up in batches of a quarter) wait in the
      // core for room, and no more credit is given.
      await eventually(() => q.stats.published >= 13 && accepted === 5);
      assert.ok(q.stats.published <= 15, `published ${q.stats.published}`);
      assert.equal((s as unknown as { credit: number }).credit, 0);
      // A consumer empties the queue: everything goes through.
      const r = await openReceiver(c, { source: '/queue/slow', autoaccept: true, credit_window: 5 } as rhea.ReceiverOptions);
      let received = 0;
      r.on('message', () => { received++; });
      await eventually(() => received === total);
      assert.ok((await Promise.all(outcomes)).every((o) => o === 'accepted'));
      assert.equal(accepted, total);
    });

    it('the producer links of one connection share maxInflightPerConnection', async () => {
      const h2 = await startAmqp({ creditWindow: 10, maxInflightPerConnection: 12 });
      const c2 = await connect(h2.port);
      try {
        await h2.broker.declareQueue('shared-slow', { maxLength: 2, overflow: 'block' });
        const q = h2.broker.getQueue('shared-slow')!;
        // One session each: rhea queues a session's transfers in one line, so a link without credit would hold up the other.
        const sessions = [c2.create_session(), c2.create_session()];
        sessions.forEach((ssn) => ssn.begin());
        const senders = [await openSender(sessions[0], '/queue/shared-slow'), await openSender(sessions[1], '/queue/shared-slow')];
        senders.forEach((s) => s.setMaxListeners(100));
        const outcomes = senders.flatMap((s) => Array.from({ length: 20 }, (_, i) => send(s, { body: `x${i}` })));
        // 2 fit in the queue; at most 12 (credit + waiting publishes) are outstanding across both links.
        await eventually(() => q.stats.published >= 12);
        await tick(200);
        assert.ok(q.stats.published <= 2 + 12, `published ${q.stats.published}`);
        const r = await openReceiver(c2, { source: '/queue/shared-slow', autoaccept: true, credit_window: 10 } as rhea.ReceiverOptions);
        let n = 0;
        r.on('message', () => { n++; });
        await eventually(() => n === 40);
        assert.ok((await Promise.all(outcomes)).every((o) => o === 'accepted'));
      } finally {
        await close(c2);
        await h2.stop();
      }
    });

    it('pre-settled transfers are published without outcomes', async () => {
      const s = await openSender(c, { target: '/queue/presettled', snd_settle_mode: 1 } as rhea.SenderOptions);
      await sendable(s);
      for (let i = 0; i < 5; i++) {
        const d = s.send({ body: `p${i}` });
        assert.equal(d.settled, true);
      }
      await eventually(() => h.broker.getQueue('presettled')?.messageCount === 5);
    });

    it('a full queue with overflow reject gives rejected amqp:resource-limit-exceeded', async () => {
      await h.broker.declareQueue('tiny', { maxLength: 1, overflow: 'reject' });
      const s = await openSender(c, '/queue/tiny');
      assert.equal(await send(s, { body: '1' }), 'accepted');
      assert.equal(await send(s, { body: '2' }), 'rejected:amqp:resource-limit-exceeded');
    });

    it('a malformed message is rejected with amqp:decode-error, the link stays usable', async () => {
      const s = await openSender(c, '/queue/bad');
      await sendable(s);
      const outcome = new Promise<string>((resolve) => {
        s.once('rejected', (ctx) => resolve((ctx.delivery as unknown as { remote_state: { error: { condition: string } } }).remote_state.error.condition));
      });
      (s as unknown as { send(b: Buffer, tag: Buffer, format: number): unknown }).send(Buffer.from([0x00, 0x53, 0x75, 0xa0, 0x10, 1]), Buffer.from('t'), 0);
      assert.equal(await outcome, 'amqp:decode-error');
      assert.equal(await send(s, { body: 'fine' }), 'accepted');
    });

    it('a message larger than maxMessageSize detaches the link with amqp:link:message-size-exceeded', async () => {
      const h2 = await startAmqp({ maxMessageSize: 1000 });
      const c2 = await connect(h2.port);
      try {
        const s = await openSender(c2, '/queue/big');
        await sendable(s);
        const err = new Promise<string>((resolve) => s.once('sender_error', (ctx) => resolve((ctx.sender!.error as { condition: string }).condition)));
        s.send({ body: Buffer.alloc(5000) });
        assert.equal(await err, 'amqp:link:message-size-exceeded');
        assert.equal(h2.broker.getQueue('big')?.messageCount ?? 0, 0);
      } finally {
        await close(c2);
        await h2.stop();
      }
    });

    it('messages larger than a frame travel in several frames both ways', async () => {
      const h2 = await startAmqp({ maxFrameSize: 4096 });
      const c2 = await connect(h2.port, { max_frame_size: 4096 });
      try {
        const big = Buffer.alloc(50000, 7);
        const s = await openSender(c2, '/queue/frames');
        assert.equal(await send(s, { body: rhea.message.data_section(big) }), 'accepted');
        const r = await openReceiver(c2, '/queue/frames');
        const [m] = await receive(r, 1);
        assert.deepEqual((m.message.body as { content: Buffer }).content, big);
      } finally {
        await close(c2);
        await h2.stop();
      }
    });
  });

  describe('consumer credit, outcomes and drain', () => {
    async function fill(queue: string, n: number): Promise<void> {
      const s = await openSender(c, `/queue/${queue}`);
      for (let i = 0; i < n; i++) assert.equal(await send(s, { body: `${queue}-${i}` }), 'accepted');
    }

    it('delivers no more than the link credit', async () => {
      await fill('cr', 5);
      const r = await openReceiver(c, '/queue/cr');
      const got = await receive(r, 2);
      assert.deepEqual(got.map(body), ['cr-0', 'cr-1']);
      const q = h.broker.getQueue('cr')!;
      assert.equal(q.messageCount, 3);
      assert.equal(q.consumers[0].availableCredit, 0);
      assert.equal(q.unackedMessageCount, 2);
    });

    it('accepted acknowledges', async () => {
      await fill('acc', 1);
      const r = await openReceiver(c, '/queue/acc');
      const [m] = await receive(r, 1);
      m.delivery.accept();
      const q = h.broker.getQueue('acc')!;
      await eventually(() => q.unackedMessageCount === 0);
      assert.equal(q.messageCount, 0);
    });

    it('released requeues without counting a failed delivery', async () => {
      await fill('rel', 1);
      const r = await openReceiver(c, '/queue/rel');
      const [m] = await receive(r, 1);
      assert.equal(m.message.first_acquirer, true);
      m.delivery.release();
      const [again] = await receive(r, 1);
      assert.equal(body(again), 'rel-0');
      assert.equal(again.message.delivery_count ?? 0, 0);
      assert.equal(again.message.first_acquirer ?? false, false);
    });

    it('modified delivery-failed requeues counting the failure', async () => {
      await fill('mod', 1);
      const r = await openReceiver(c, '/queue/mod');
      const [m] = await receive(r, 1);
      m.delivery.modified({ delivery_failed: true });
      const [again] = await receive(r, 1);
      assert.equal(again.message.delivery_count, 1);
    });

    it('modified undeliverable-here gives the message to another consumer', async () => {
      await fill('undel', 1);
      const r1 = await openReceiver(c, '/queue/undel');
      const [m] = await receive(r1, 1);
      const r2 = await openReceiver(c, '/queue/undel');
      const other = receive(r2, 1);
      r1.add_credit(5);
      m.delivery.modified({ undeliverable_here: true });
      assert.equal(body((await other)[0]), 'undel-0');
    });

    it('rejected moves the message to the dead-letter queue', async () => {
      await fill('rej', 1);
      const r = await openReceiver(c, '/queue/rej');
      const [m] = await receive(r, 1);
      m.delivery.reject({ condition: 'app:bad', description: 'no' });
      await eventually(() => (h.broker.getQueue('rej.dlq')?.messageCount ?? 0) === 1);
      assert.equal(h.broker.getQueue('rej')!.messageCount, 0);
      const dlq = await openReceiver(c, '/queue/rej.dlq');
      const [dead] = await receive(dlq, 1);
      assert.equal(body(dead), 'rej-0');
      assert.equal(dead.message.application_properties?.['x-dead-letter-reason'], 'rejected');
    });

    it('settling without an outcome counts as accepted', async () => {
      await fill('bare', 1);
      const r = await openReceiver(c, '/queue/bare');
      const [m] = await receive(r, 1);
      m.delivery.update(true);
      const q = h.broker.getQueue('bare')!;
      await eventually(() => q.unackedMessageCount === 0);
      assert.equal(q.messageCount, 0);
    });

    it('a pre-settled consumer gets settled deliveries and nothing stays unacked', async () => {
      await fill('ps', 3);
      const r = await openReceiver(c, { source: '/queue/ps', snd_settle_mode: 1 } as rhea.ReceiverOptions);
      const got = await receive(r, 3);
      assert.ok(got.every((g) => g.delivery.remote_settled));
      const q = h.broker.getQueue('ps')!;
      assert.equal(q.unackedMessageCount, 0);
      assert.equal(q.messageCount, 0);
    });

    it('drain delivers what is there and then gives up the rest of the credit', async () => {
      await fill('dr', 3);
      const r = await openReceiver(c, '/queue/dr');
      const got = await drain(r, 10);
      assert.deepEqual(got.map(body), ['dr-0', 'dr-1', 'dr-2']);
      assert.equal((r as unknown as { credit: number }).credit, 0);
      const q = h.broker.getQueue('dr')!;
      assert.equal(q.consumers[0].availableCredit, 0);
      // Credit after a drain works again.
      r.drain = false;
      await fill('dr', 1);
      const [next] = await receive(r, 1);
      assert.equal(body(next), 'dr-0');
    });

    it('drain on an empty queue completes at once', async () => {
      const r = await openReceiver(c, '/queue/dr-empty');
      const got = await drain(r, 5);
      assert.equal(got.length, 0);
      assert.equal((r as unknown as { credit: number }).credit, 0);
    });

    it('a consumer that does not read its socket is paused (memory stays bounded), then catches up', async () => {
      const total = 400;
      const big = Buffer.alloc(128 * 1024, 1);
      await h.broker.declareQueue('bp');
      for (let i = 0; i < total; i++) await h.broker.sendToQueue('bp', { topic: 'bp', payload: big, headers: { i }, timestamp: Date.now(), durable: false, source: 'core' });
      const q = h.broker.getQueue('bp')!;
      const r = await openReceiver(c, '/queue/bp');
      const socket = (c as unknown as { socket: import('node:net').Socket }).socket;
      socket.pause();
      let n = 0;
      r.on('message', (ctx) => { n++; ctx.delivery!.accept(); });
      r.add_credit(total);
      // The broker hands out deliveries until the socket pushes back, then stops.
      let last = -1;
      while (q.stats.delivered !== last) {
        last = q.stats.delivered;
        await tick(200);
      }
      assert.ok(q.stats.delivered < total, `delivered ${q.stats.delivered} of ${total} to a client that reads nothing`);
      socket.resume();
      await eventually(() => n === total);
      await eventually(() => q.messageCount === 0 && q.unackedMessageCount === 0);
    });

    it('detaching a consumer requeues its unsettled deliveries', async () => {
      await fill('det', 2);
      const r = await openReceiver(c, '/queue/det');
      await receive(r, 2);
      const q = h.broker.getQueue('det')!;
      assert.equal(q.unackedMessageCount, 2);
      r.close();
      await eventually(() => q.messageCount === 2);
      assert.equal(q.consumers.length, 0);
    });
  });
});
