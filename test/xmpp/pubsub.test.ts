/**
 * XEP-0060 on pubsub.localhost with @xmpp/client: create, subscribe, publish with item ids,
 * event notifications (online and queued while offline), retrieve items (retained and stream),
 * delete; and the cross-protocol paths through the core.
 */
import assert from 'node:assert/strict';
import type { Client, XmlElement } from '@xmpp/client';
import { createMessage } from '../../core/message.js';
import { collect, delay, type Harness, login, nextStanza, startXmpp, stopAll, xmlEl } from './helpers.js';

const PUBSUB = 'pubsub.localhost';
const NS_PUBSUB = 'http://jabber.org/protocol/pubsub';
const NS_EVENT = 'http://jabber.org/protocol/pubsub#event';

const isEvent = (node: string) => (s: XmlElement) => s.name === 'message' && s.getChild('event', NS_EVENT)?.getChild('items')?.attrs.node === node;
const eventItem = (s: XmlElement) => s.getChild('event', NS_EVENT)!.getChild('items')!.getChild('item')!;

function publishIq(node: string, id: string | undefined, payload: XmlElement) {
  return xmlEl('pubsub', { xmlns: NS_PUBSUB }, xmlEl('publish', { node }, xmlEl('item', { id }, payload)));
}

describe('xmpp pubsub (XEP-0060)', function () {
  let h: Harness;
  const clients: Client[] = [];
  const track = (c: Client) => { clients.push(c); return c; };

  before(async () => { h = await startXmpp(); });
  after(async () => { await h.close(); });
  afterEach(async () => { await stopAll(...clients.splice(0)); });

  it('advertises the pubsub service and its features in disco', async () => {
    const a = track(await login(h.port, 'alice', 'alice-pw'));
    const info = await a.iqCaller.get(xmlEl('query', { xmlns: 'http://jabber.org/protocol/disco#info' }), PUBSUB);
    assert.equal(info.getChild('identity')!.attrs.category, 'pubsub');
    const vars = info.getChildren('feature').map((f) => f.attrs.var);
    for (const f of ['publish', 'subscribe', 'create-nodes', 'delete-nodes', 'retrieve-items', 'item-ids']) assert.ok(vars.includes(`${NS_PUBSUB}#${f}`), f);
  });

  it('creates a node, lists it, subscribes, publishes with an item id, notifies and retrieves', async () => {
    const a = track(await login(h.port, 'alice', 'alice-pw', { presence: true }));
    const b = track(await login(h.port, 'bob', 'bob-pw', { presence: true }));
    await a.iqCaller.set(xmlEl('pubsub', { xmlns: NS_PUBSUB }, xmlEl('create', { node: 'news.tech' })), PUBSUB);
    await assert.rejects(a.iqCaller.set(xmlEl('pubsub', { xmlns: NS_PUBSUB }, xmlEl('create', { node: 'news.tech' })), PUBSUB), /conflict/);
    const items = await a.iqCaller.get(xmlEl('query', { xmlns: 'http://jabber.org/protocol/disco#items' }), PUBSUB);
    assert.ok(items.getChildren('item').some((i) => i.attrs.node === 'news.tech'));
    const nodeInfo = await a.iqCaller.get(xmlEl('query', { xmlns: 'http://jabber.org/protocol/disco#info', node: 'news.tech' }), PUBSUB);
    assert.equal(nodeInfo.getChild('identity')!.attrs.type, 'leaf');

    const sub = await b.iqCaller.set(xmlEl('pubsub', { xmlns: NS_PUBSUB }, xmlEl('subscribe', { node: 'news.tech', jid: 'bob@localhost' })), PUBSUB);
    assert.equal(sub.getChild('subscription')!.attrs.subscription, 'subscribed');
    assert.ok(h.broker.getQueue('xmpp.pubsub.bob@localhost'));
    assert.deepEqual(h.broker.bindingsOf('xmpp.pubsub.bob@localhost').map((x) => x.pattern), ['news.tech']);

    const ev = nextStanza(b, isEvent('news.tech'));
    const res = await a.iqCaller.set(publishIq('news.tech', 'item-1', xmlEl('entry', { xmlns: 'http://www.w3.org/2005/Atom' }, xmlEl('title', null, 'Hello'))), PUBSUB);
    assert.equal(res.getChild('publish')!.getChild('item')!.attrs.id, 'item-1');
    const item = eventItem(await ev);
    assert.equal(item.attrs.id, 'item-1');
    assert.equal(item.getChild('entry', 'http://www.w3.org/2005/Atom')!.getChildText('title'), 'Hello');

    const got = await b.iqCaller.get(xmlEl('pubsub', { xmlns: NS_PUBSUB }, xmlEl('items', { node: 'news.tech' })), PUBSUB);
    const retrieved = got.getChild('items')!.getChildren('item');
    assert.equal(retrieved.length, 1);
    assert.equal(retrieved[0].attrs.id, 'item-1');
    assert.equal(retrieved[0].getChild('entry')!.getChildText('title'), 'Hello');

    const subs = await b.iqCaller.get(xmlEl('pubsub', { xmlns: NS_PUBSUB }, xmlEl('subscriptions')), PUBSUB);
    assert.equal(subs.getChild('subscriptions')!.getChild('subscription')!.attrs.node, 'news.tech');
    await b.iqCaller.set(xmlEl('pubsub', { xmlns: NS_PUBSUB }, xmlEl('unsubscribe', { node: 'news.tech', jid: 'bob@localhost' })), PUBSUB);
    assert.deepEqual(h.broker.bindingsOf('xmpp.pubsub.bob@localhost'), []);
  });

  it('fans an event out to every available resource of a subscriber', async () => {
    const b1 = track(await login(h.port, 'bob', 'bob-pw', { presence: true, resource: 'one' }));
    const b2 = track(await login(h.port, 'bob', 'bob-pw', { presence: true, resource: 'two' }));
    await b1.iqCaller.set(xmlEl('pubsub', { xmlns: NS_PUBSUB }, xmlEl('subscribe', { node: 'fan.out', jid: 'bob@localhost/one' })), PUBSUB);
    const e1 = nextStanza(b1, isEvent('fan.out'));
    const e2 = nextStanza(b2, isEvent('fan.out'));
    await b1.iqCaller.set(publishIq('fan.out', 'f1', xmlEl('json', { xmlns: 'urn:xmpp:json:0' }, '{"n":1}')), PUBSUB);
    const [m1, m2] = await Promise.all([e1, e2]);
    assert.equal(eventItem(m1).getChildText('json', 'urn:xmpp:json:0'), '{"n":1}');
    assert.equal(eventItem(m2).attrs.id, 'f1');
  });

  it('keeps notifications while the subscriber is offline and delivers them at its next presence', async () => {
    const c = track(await login(h.port, 'carol', 'carol-pw', { presence: true }));
    await c.iqCaller.set(xmlEl('pubsub', { xmlns: NS_PUBSUB }, xmlEl('subscribe', { node: 'later.node', jid: 'carol@localhost' })), PUBSUB);
    await stopAll(c);
    clients.length = 0;
    const a = track(await login(h.port, 'alice', 'alice-pw'));
    for (let i = 0; i < 3; i++) await a.iqCaller.set(publishIq('later.node', `l${i}`, xmlEl('payload', { xmlns: 'urn:junction:payload:0', encoding: 'utf-8', 'content-type': 'text/plain' }, `v${i}`)), PUBSUB);
    assert.equal(h.broker.getQueue('xmpp.pubsub.carol@localhost')!.messageCount, 3);
    const c2 = track(await login(h.port, 'carol', 'carol-pw'));
    const got = collect(c2, isEvent('later.node'), 3);
    await c2.send(xmlEl('presence'));
    const evs = await got;
    assert.deepEqual(evs.map((e) => eventItem(e).attrs.id), ['l0', 'l1', 'l2']);
    assert.equal(eventItem(evs[2]).getChildText('payload', 'urn:junction:payload:0'), 'v2');
  });

  it('retrieves the last items from the topic stream when one exists', async () => {
    await h.broker.createStream('metrics.cpu');
    const a = track(await login(h.port, 'alice', 'alice-pw'));
    for (let i = 0; i < 5; i++) await a.iqCaller.set(publishIq('metrics.cpu', `m${i}`, xmlEl('json', { xmlns: 'urn:xmpp:json:0' }, `{"v":${i}}`)), PUBSUB);
    const got = await a.iqCaller.get(xmlEl('pubsub', { xmlns: NS_PUBSUB }, xmlEl('items', { node: 'metrics.cpu', max_items: '3' })), PUBSUB);
    const items = got.getChild('items')!.getChildren('item');
    assert.deepEqual(items.map((i) => i.attrs.id), ['m2', 'm3', 'm4']);
    assert.equal(items[2].getChildText('json', 'urn:xmpp:json:0'), '{"v":4}');
    const one = await a.iqCaller.get(xmlEl('pubsub', { xmlns: NS_PUBSUB }, xmlEl('items', { node: 'metrics.cpu' }, xmlEl('item', { id: 'm1' }))), PUBSUB);
    assert.deepEqual(one.getChild('items')!.getChildren('item').map((i) => i.attrs.id), ['m1']);
  });

  it('deletes a node (owner only) and notifies subscribers', async () => {
    const a = track(await login(h.port, 'alice', 'alice-pw', { presence: true }));
    const b = track(await login(h.port, 'bob', 'bob-pw', { presence: true }));
    await a.iqCaller.set(xmlEl('pubsub', { xmlns: NS_PUBSUB }, xmlEl('create', { node: 'doomed.node' })), PUBSUB);
    await b.iqCaller.set(xmlEl('pubsub', { xmlns: NS_PUBSUB }, xmlEl('subscribe', { node: 'doomed.node', jid: 'bob@localhost' })), PUBSUB);
    await assert.rejects(b.iqCaller.set(xmlEl('pubsub', { xmlns: `${NS_PUBSUB}#owner` }, xmlEl('delete', { node: 'doomed.node' })), PUBSUB), /forbidden/);
    const del = nextStanza(b, (s) => !!s.getChild('event', NS_EVENT)?.getChild('delete'));
    await a.iqCaller.set(xmlEl('pubsub', { xmlns: `${NS_PUBSUB}#owner` }, xmlEl('delete', { node: 'doomed.node' })), PUBSUB);
    assert.equal((await del).getChild('event')!.getChild('delete')!.attrs.node, 'doomed.node');
    assert.equal(h.broker.metadata.has('xmpp-node', 'doomed.node'), false);
    assert.deepEqual(h.broker.bindingsOf('xmpp.pubsub.bob@localhost').filter((x) => x.pattern === 'doomed.node'), []);
    await assert.rejects(a.iqCaller.set(xmlEl('pubsub', { xmlns: `${NS_PUBSUB}#owner` }, xmlEl('delete', { node: 'doomed.node' })), PUBSUB), /item-not-found/);
  });

  it('refuses wildcard node names and subscriptions for another JID', async () => {
    const a = track(await login(h.port, 'alice', 'alice-pw'));
    await assert.rejects(a.iqCaller.set(xmlEl('pubsub', { xmlns: NS_PUBSUB }, xmlEl('create', { node: 'a.#' })), PUBSUB), /not-acceptable/);
    await assert.rejects(a.iqCaller.set(xmlEl('pubsub', { xmlns: NS_PUBSUB }, xmlEl('subscribe', { node: 'x.y', jid: 'bob@localhost' })), PUBSUB), /bad-request/);
  });

  describe('cross-protocol through the core', () => {
    it('a core publish on topic T becomes an event for node T, bytes intact', async () => {
      const b = track(await login(h.port, 'bob', 'bob-pw', { presence: true }));
      await b.iqCaller.set(xmlEl('pubsub', { xmlns: NS_PUBSUB }, xmlEl('subscribe', { node: 'sensors.room1.temp', jid: 'bob@localhost' })), PUBSUB);
      const ev = collect(b, isEvent('sensors.room1.temp'), 2);
      await h.broker.publish(createMessage({ topic: 'sensors.room1.temp', payload: Buffer.from('21.5'), contentType: 'text/plain', source: 'mqtt', messageId: 'mq-1' }));
      await h.broker.publish(createMessage({ topic: 'sensors.room1.temp', payload: Buffer.from([0, 1, 2, 255]), source: 'mqtt' }));
      const [e1, e2] = await ev;
      const p1 = eventItem(e1).getChild('payload', 'urn:junction:payload:0')!;
      assert.equal(eventItem(e1).attrs.id, 'mq-1');
      assert.deepEqual([p1.attrs['content-type'], p1.attrs.encoding, p1.text()], ['text/plain', 'utf-8', '21.5']);
      const p2 = eventItem(e2).getChild('payload', 'urn:junction:payload:0')!;
      assert.equal(p2.attrs.encoding, 'base64');
      assert.deepEqual(Buffer.from(p2.text(), 'base64'), Buffer.from([0, 1, 2, 255]));
    });

    it('an XMPP publish reaches a core queue bound to the topic and a stream of that name', async () => {
      await h.broker.declareQueue('xmpp-cross-q');
      await h.broker.bindQueue('xmpp-cross-q', 'orders.#');
      await h.broker.createStream('orders.new');
      const a = track(await login(h.port, 'alice', 'alice-pw'));
      await a.iqCaller.set(publishIq('orders.new', 'o-1', xmlEl('payload', { xmlns: 'urn:junction:payload:0', 'content-type': 'application/octet-stream', encoding: 'base64' }, Buffer.from([9, 8, 7]).toString('base64'))), PUBSUB);
      const [e] = h.broker.getQueue('xmpp-cross-q')!.peekEntries(1);
      assert.deepEqual(e.message!.payload, Buffer.from([9, 8, 7]));
      assert.equal(e.message!.messageId, 'o-1');
      assert.equal(e.message!.contentType, 'application/octet-stream');
      assert.equal(e.message!.source, 'xmpp');
      assert.equal(e.message!.durable, true);
      assert.equal(h.broker.getStream('orders.new')!.partitions[0].highWatermark, 1);
    });
  });
});

void delay;
