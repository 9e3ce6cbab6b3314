/** Shared subscriptions $share/<group>/<filter>: competing consumers on one core queue. */
import assert from 'node:assert/strict';
import type mqttPacket from 'mqtt-packet';
import { connect, connectInbox, endAll, Inbox, rawConnected, startMqtt, uid, type MqttTestBroker } from './helpers.js';
import { eventually } from '../support/index.js';

describe('mqtt shared subscriptions', () => {
  let t: MqttTestBroker;
  beforeEach(async () => { t = await startMqtt(); });
  afterEach(async () => { await endAll(); await t.close(); });

  for (const protocolVersion of [4, 5] as const) {
    it(`delivers each message to one member of the group (protocol ${protocolVersion})`, async () => {
      const topic = `work/${uid()}`;
      const a = await connect(t.url, { protocolVersion });
      const b = await connect(t.url, { protocolVersion });
      const ia = new Inbox(a);
      const ib = new Inbox(b);
      await a.subscribeAsync(`$share/workers/${topic}`, { qos: 1 });
      await b.subscribeAsync(`$share/workers/${topic}`, { qos: 1 });
      const queue = t.b.broker.getQueue(`mqtt.share.workers.${topic.replaceAll('/', '.')}`);
      assert.ok(queue, 'one core queue for the group');
      assert.equal(queue.consumers.length, 2);
      const pub = await connect(t.url);
      for (let i = 0; i < 20; i++) await pub.publishAsync(topic, `${i}`, { qos: 1 });
      await eventually(() => ia.messages.length + ib.messages.length === 20, { what: '20 deliveries' });
      const all = [...ia.messages, ...ib.messages].map((m) => Number(m.payload.toString())).sort((x, y) => x - y);
      assert.deepEqual(all, Array.from({ length: 20 }, (_, i) => i));
      assert.ok(ia.messages.length > 0 && ib.messages.length > 0, 'both members got work');
      assert.equal(ia.messages[0].topic, topic);
    });
  }

  it('different groups each get every message; a plain subscriber too', async () => {
    const topic = `groups/${uid()}`;
    const g1 = await connect(t.url, { protocolVersion: 5 });
    const g2 = await connect(t.url, { protocolVersion: 5 });
    const plain = await connect(t.url, { protocolVersion: 5 });
    const [i1, i2, ip] = [new Inbox(g1), new Inbox(g2), new Inbox(plain)];
    await g1.subscribeAsync(`$share/one/${topic}`, { qos: 0 });
    await g2.subscribeAsync(`$share/two/${topic}`, { qos: 0 });
    await plain.subscribeAsync(topic, { qos: 0 });
    const pub = await connect(t.url);
    for (let i = 0; i < 5; i++) await pub.publishAsync(topic, `${i}`, { qos: 1 });
    await i1.waitCount(5);
    await i2.waitCount(5);
    await ip.waitCount(5);
  });

  it('a departing member\'s unacknowledged messages go to another member; the last one out deletes the queue', async () => {
    const topic = `handover/${uid()}`;
    const queueName = `mqtt.share.g.${topic.replaceAll('/', '.')}`;
    const r = await rawConnected(t.port, 4);
    r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `$share/g/${topic}`, qos: 1 }] } as mqttPacket.ISubscribePacket);
    await r.nextPacket();
    const pub = await connect(t.url);
    await pub.publishAsync(topic, 'held', { qos: 1 });
    const held = await r.nextPacket() as mqttPacket.IPublishPacket;
    assert.equal(held.payload.toString(), 'held');
    const other = await connect(t.url);
    const inbox = new Inbox(other);
    await other.subscribeAsync(`$share/g/${topic}`, { qos: 1 });
    r.close();
    assert.equal((await inbox.next()).payload.toString(), 'held');
    await other.unsubscribeAsync(`$share/g/${topic}`);
    await eventually(() => t.b.broker.getQueue(queueName) === undefined, { what: 'shared queue deleted' });
  });

  it('a persistent member keeps its place across a restart (durable shared queue)', async () => {
    const topic = `sharedrestart/${uid()}`;
    const clientId = uid('sp');
    const c = await connect(t.url, { clientId, clean: false });
    await c.subscribeAsync(`$share/keep/${topic}`, { qos: 1 });
    await c.endAsync();
    const pub = await connect(t.url);
    await pub.publishAsync(topic, 'queued', { qos: 1 });
    await endAll();
    t = await t.restart();
    const { inbox, connack } = await connectInbox(t.url, { clientId, clean: false });
    assert.equal(connack.sessionPresent, true);
    assert.equal((await inbox.next()).payload.toString(), 'queued');
  });

  it('no local on a shared subscription is a protocol error (0x82)', async () => {
    const r = await rawConnected(t.port, 5);
    r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '$share/g/x', qos: 1, nl: true, rap: false, rh: 0 }] } as mqttPacket.ISubscribePacket);
    const d = await r.nextPacket() as mqttPacket.IDisconnectPacket;
    assert.equal(d.cmd, 'disconnect');
    assert.equal(d.reasonCode, 0x82);
    await r.closed;
  });
});
