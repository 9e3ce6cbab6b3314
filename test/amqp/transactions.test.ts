/**
 * Local transactions through the coordinator, with rhea as the client (txn-client.ts adds what
 * rhea lacks): transactional sends and dispositions, commit and rollback.
 */
import assert from 'node:assert/strict';
import rhea from 'rhea';
import { brokerPerTest, close, connect, type Harness, openReceiver, openSender, receive, send } from './helpers.js';
import { acceptedState, coordinator, declare, discharge, sendInTxn, txnState } from './txn-client.js';

const body = (r: { message: rhea.Message }) => r.message.body as unknown;
/** rhea writes its pending frames on the next tick. */
const written = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('amqp transactions', function () {
  let h: Harness;
  let c: rhea.Connection;
  brokerPerTest((broker, connection) => {
    h = broker;
    c = connection;
  });

  it('the coordinator answers declare with a txn-id and echoes its capability', async () => {
    const coord = await coordinator(c);
    const target = (coord as unknown as { remote: { attach: { target: { descriptor: { value: unknown } } } } }).remote.attach.target;
    assert.equal(Number(target.descriptor.value), 0x30);
    const id = await declare(coord);
    assert.ok(Buffer.isBuffer(id) && id.length > 0);
    assert.notDeepEqual(await declare(coord), id);
  });

  it('transactional sends appear only on commit', async () => {
    const coord = await coordinator(c);
    const id = await declare(coord);
    const s = await openSender(c, '/queue/txq');
    const r1 = await sendInTxn(s, { body: 'a', durable: true }, id);
    const r2 = await sendInTxn(s, { body: 'b', durable: true }, id);
    assert.equal(r1.state, 0x34);
    assert.equal(r1.inner, 0x24);
    assert.equal(r2.state, 0x34);
    assert.equal(h.broker.getQueue('txq')?.messageCount, 0);
    assert.equal(await discharge(coord, id, false), 'accepted');
    assert.equal(h.broker.getQueue('txq')?.messageCount, 2);
    const r = await openReceiver(c, '/queue/txq');
    assert.deepEqual((await receive(r, 2)).map(body), ['a', 'b']);
  });

  it('transactional sends to a topic and through the anonymous relay', async () => {
    const sub = await openReceiver(c, '/topic/txt.#');
    const got = receive(sub, 2);
    const coord = await coordinator(c);
    const id = await declare(coord);
    await sendInTxn(await openSender(c, '/topic/txt.a'), { body: 'topic' }, id);
    await sendInTxn(await openSender(c, { target: {} }), { to: '/topic/txt.b', body: 'relay' }, id);
    assert.equal(await discharge(coord, id, false), 'accepted');
    assert.deepEqual((await got).map(body).sort(), ['relay', 'topic']);
  });

  it('rolled back sends are discarded', async () => {
    const coord = await coordinator(c);
    const id = await declare(coord);
    const s = await openSender(c, '/queue/txr');
    await sendInTxn(s, { body: 'gone' }, id);
    assert.equal(await discharge(coord, id, true), 'accepted');
    assert.equal(h.broker.getQueue('txr')?.messageCount, 0);
    // The id is finished: a second discharge is unknown.
    assert.equal(await discharge(coord, id, false), 'rejected:amqp:transaction:unknown-id');
  });

  it('transactional acceptances acknowledge on commit', async () => {
    const s = await openSender(c, '/queue/txa');
    for (const b of ['x', 'y']) await send(s, { body: b, durable: true });
    const r = await openReceiver(c, '/queue/txa');
    const got = await receive(r, 2);
    const coord = await coordinator(c);
    const id = await declare(coord);
    for (const g of got) g.delivery.update(true, txnState(id, acceptedState()));
    const q = h.broker.getQueue('txa')!;
    await written(); // rhea writes transfers before dispositions in one pass: let the dispositions go first
    assert.equal(q.unackedMessageCount, 2);
    assert.equal(await discharge(coord, id, false), 'accepted');
    assert.equal(q.unackedMessageCount, 0);
    assert.equal(q.messageCount, 0);
  });

  it('rolled back acceptances redeliver the messages', async () => {
    const s = await openSender(c, '/queue/txb');
    await send(s, { body: 'again' });
    const r = await openReceiver(c, '/queue/txb');
    const [m] = await receive(r, 1);
    const coord = await coordinator(c);
    const id = await declare(coord);
    m.delivery.update(true, txnState(id, acceptedState()));
    await written();
    assert.equal(await discharge(coord, id, true), 'accepted');
    const [again] = await receive(r, 1);
    assert.equal(body(again), 'again');
    assert.equal(again.message.delivery_count, 1);
  });

  it('sends and acceptances commit as one', async () => {
    const s = await openSender(c, '/queue/in');
    await send(s, { body: 'work', durable: true });
    const r = await openReceiver(c, '/queue/in');
    const [m] = await receive(r, 1);
    const coord = await coordinator(c);
    const id = await declare(coord);
    await sendInTxn(await openSender(c, '/queue/out'), { body: 'result', durable: true }, id);
    m.delivery.update(true, txnState(id, acceptedState()));
    await written();
    assert.equal(await discharge(coord, id, false), 'accepted');
    assert.equal(h.broker.getQueue('in')!.unackedMessageCount + h.broker.getQueue('in')!.messageCount, 0);
    assert.equal(h.broker.getQueue('out')!.messageCount, 1);
  });

  it('an unknown txn-id on a transfer is rejected', async () => {
    const s = await openSender(c, '/queue/txu');
    const r = await sendInTxn(s, { body: 'x' }, Buffer.from('nope'));
    assert.equal(r.state, 'amqp:transaction:unknown-id');
    assert.equal(h.broker.getQueue('txu')?.messageCount, 0);
  });

  it('open transactions roll back when the connection closes', async () => {
    const other = await connect(h.port);
    const coord = await coordinator(other);
    const id = await declare(coord);
    await sendInTxn(await openSender(other, '/queue/txc'), { body: 'lost' }, id);
    await close(other);
    assert.equal(h.broker.getQueue('txc')?.messageCount, 0);
  });
});
