/**
 * JMS selectors on AMQP consumer links: the source filter `jms-selector`
 * (`apache.org:selector-filter:string`, as Qpid JMS sends it; rhea's filter.selector()).
 */
import assert from 'node:assert/strict';
import rhea from 'rhea';
import { createMessage } from '../../core/message.js';
import { brokerPerTest, drain, type Harness, openReceiver, receive, refusal } from './helpers.js';

const text = (m: rhea.Message) => (typeof m.body === 'string' ? m.body : Buffer.from((m.body as { content: Buffer }).content).toString());

describe('amqp selectors (jms-selector source filter)', function () {
  let h: Harness;
  let c: rhea.Connection;
  brokerPerTest((broker, connection) => {
    h = broker;
    c = connection;
  });

  const put = async (queue: string, rows: Array<[string, string, number]>) => {
    for (const [body, region, priority] of rows) {
      await h.broker.sendToQueue(queue, createMessage({ topic: queue, payload: Buffer.from(body), headers: { region }, priority }));
    }
  };

  it('a selecting receiver gets what matches; the rest stays for another receiver; the filter is echoed', async () => {
    await h.broker.declareQueue('orders', { durable: true });
    await put('orders', [['eu-low', 'eu', 2], ['us-high', 'us', 8], ['eu-high', 'eu', 8], ['us-low', 'us', 1]]);
    const r = await openReceiver(c, { source: { address: '/queue/orders', filter: rhea.filter.selector("priority > 4 AND region = 'eu'") }, autoaccept: true });
    const echoed = (r as unknown as { remote: { attach: { source: { filter: Record<string, unknown> | null } } } }).remote.attach.source.filter;
    assert.ok(echoed && 'jms-selector' in echoed, 'the applied selector filter is in the attach reply');
    assert.deepEqual((await receive(r, 1, 10)).map((g) => text(g.message)), ['eu-high']);
    assert.deepEqual(await drain(r, 10), []);
    assert.equal(h.broker.getQueue('orders')!.messageCount, 3);
    const all = await openReceiver(c, { source: '/queue/orders', autoaccept: true });
    assert.deepEqual((await receive(all, 3)).map((g) => text(g.message)), ['us-high', 'eu-low', 'us-low']);
  });

  it('a topic subscription with a selector receives only matching publishes', async () => {
    const r = await openReceiver(c, { source: { address: '/topic/prices.#', filter: rhea.filter.selector('price BETWEEN 10 AND 20') }, autoaccept: true });
    const got = receive(r, 2, 10);
    for (const price of [5, 12, 25, 20]) {
      await h.broker.publish(createMessage({ topic: 'prices.x', payload: Buffer.from(`p${price}`), headers: { price } }));
    }
    assert.deepEqual((await got).map((g) => text(g.message)), ['p12', 'p20']);
  });

  it('a browse with a selector shows only matching messages', async () => {
    await h.broker.declareQueue('b', { durable: true });
    await put('b', [['x1', 'eu', 4], ['y1', 'us', 4], ['x2', 'eu', 4]]);
    const r = await openReceiver(c, { source: { address: '/queue/b', distribution_mode: 'copy', filter: rhea.filter.selector("region LIKE 'e%'") } });
    assert.deepEqual((await drain(r, 10)).map((g) => text(g.message)), ['x1', 'x2']);
    assert.equal(h.broker.getQueue('b')!.messageCount, 3);
  });

  it('a bad selector refuses the attach with amqp:invalid-field', async () => {
    assert.equal(await refusal(openReceiver(c, { source: { address: '/queue/q', filter: rhea.filter.selector("region = 'eu") } })), 'amqp:invalid-field');
    assert.equal(await refusal(openReceiver(c, { source: { address: '/queue/q', filter: rhea.filter.selector('a >> 1') } })), 'amqp:invalid-field');
  });
});
