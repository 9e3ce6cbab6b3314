/** Persistent sessions, restart, takeover, keep-alive, session expiry, bounded offline queues. */
import assert from 'node:assert/strict';
import type mqttPacket from 'mqtt-packet';
import { eventually, removeTempDir, tempDir } from '../support/index.js';
import { connect, connectInbox, endAll, Inbox, raw, rawConnected, sleep, startMqtt, uid, type MqttTestBroker } from './helpers.js';

const pub1 = (topic: string, payload: string, messageId: number, qos: 1 | 2 = 1): mqttPacket.IPublishPacket =>
  ({ cmd: 'publish', topic, payload: Buffer.from(payload), qos, messageId, retain: false, dup: false });

describe('mqtt persistent sessions', () => {
  let t: MqttTestBroker;
  beforeEach(async () => { t = await startMqtt(); });
  afterEach(async () => { await endAll(); await t.close(); });

  for (const protocolVersion of [4, 5] as const) {
    const persistent = protocolVersion === 5 ? { clean: false, properties: { sessionExpiryInterval: 3600 } } : { clean: false };
    it(`keeps subscriptions and queues QoS 1 messages while offline (protocol ${protocolVersion})`, async () => {
      const clientId = uid('p');
      const topic = `offline/${clientId}`;
      const first = await connect(t.url, { protocolVersion, clientId, ...persistent });
      await first.subscribeAsync(topic, { qos: 1 });
      await first.endAsync();
      const pub = await connect(t.url);
      for (let i = 0; i < 5; i++) await pub.publishAsync(topic, `m${i}`, { qos: 1 });
      const { inbox, connack } = await connectInbox(t.url, { protocolVersion, clientId, ...persistent });
      assert.equal(connack.sessionPresent, true);
      const got = await inbox.waitCount(5);
      assert.deepEqual(got.map((m) => m.payload.toString()), ['m0', 'm1', 'm2', 'm3', 'm4']);
    });
  }

  it('a clean session discards the stored one', async () => {
    const clientId = uid('p');
    const first = await connect(t.url, { clientId, clean: false });
    await first.subscribeAsync('discard/me', { qos: 1 });
    await first.endAsync();
    const pub = await connect(t.url);
    await pub.publishAsync('discard/me', 'x', { qos: 1 });
    const { inbox, connack } = await connectInbox(t.url, { clientId, clean: true });
    assert.equal(connack.sessionPresent, false);
    assert.ok(await inbox.quiet(200));
    assert.equal(t.b.broker.getQueue(`mqtt.session.${clientId}`), undefined);
  });

  it('survives a broker restart: subscriptions, queued QoS 1 messages, messages published after the restart', async () => {
    const clientId = uid('r');
    const topic = `restart/${clientId}`;
    const first = await connect(t.url, { clientId, clean: false });
    await first.subscribeAsync(topic, { qos: 1 });
    await first.endAsync();
    const pub = await connect(t.url);
    await pub.publishAsync(topic, 'before', { qos: 1 });
    await endAll();
    t = await t.restart();
    const pub2 = await connect(t.url);
    await pub2.publishAsync(topic, 'after', { qos: 1 });
    const { inbox, connack } = await connectInbox(t.url, { clientId, clean: false });
    assert.equal(connack.sessionPresent, true);
    assert.deepEqual((await inbox.waitCount(2)).map((m) => m.payload.toString()), ['before', 'after']);
  });

  it('redelivers unacknowledged QoS 1 messages after reconnect, with DUP', async () => {
    const clientId = uid('d');
    const topic = `dup/${clientId}`;
    const r = await rawConnected(t.port, 4, { clientId, clean: false });
    r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }] } as mqttPacket.ISubscribePacket);
    await r.nextPacket();
    const pub = await connect(t.url);
    await pub.publishAsync(topic, 'unacked', { qos: 1 });
    const p = await r.nextPacket() as mqttPacket.IPublishPacket;
    assert.equal(p.dup, false);
    r.close();
    await r.closed;
    const r2 = await raw(t.port);
    r2.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: false, keepalive: 0, clientId } as mqttPacket.IConnectPacket);
    const ack = await r2.nextPacket() as mqttPacket.IConnackPacket;
    assert.equal(ack.sessionPresent, true);
    const again = await r2.nextPacket() as mqttPacket.IPublishPacket;
    assert.equal(again.cmd, 'publish');
    assert.equal(again.payload.toString(), 'unacked');
    assert.equal(again.dup, true);
    r2.send({ cmd: 'puback', messageId: again.messageId });
    r2.close();
  });

  it('QoS 2 in-flight state survives a restart (PUBREL resent, same packet id for an unacknowledged PUBLISH)', async () => {
    const clientId = uid('q2');
    const topic = `q2/${clientId}`;
    let r = await rawConnected(t.port, 4, { clientId, clean: false });
    r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 2 }] } as mqttPacket.ISubscribePacket);
    await r.nextPacket();
    const pub = await connect(t.url);
    await pub.publishAsync(topic, 'first', { qos: 2 });
    await pub.publishAsync(topic, 'second', { qos: 2 });
    const p1 = await r.nextPacket() as mqttPacket.IPublishPacket;
    const p2 = await r.nextPacket() as mqttPacket.IPublishPacket;
    assert.equal(p1.payload.toString(), 'first');
    r.send({ cmd: 'pubrec', messageId: p1.messageId });
    assert.equal((await r.nextPacket()).cmd, 'pubrel');
    // Incoming QoS 2: PUBREC received, PUBREL not sent before the restart.
    r.send(pub1(`in/${clientId}`, 'inbound', 77, 2));
    assert.equal((await r.nextPacket()).cmd, 'pubrec');
    r.close();
    await endAll();
    t = await t.restart();
    const watcher = await connect(t.url);
    const watched = new Inbox(watcher);
    await watcher.subscribeAsync(`in/${clientId}`, { qos: 1 });
    r = await raw(t.port);
    r.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: false, keepalive: 0, clientId } as mqttPacket.IConnectPacket);
    assert.equal(((await r.nextPacket()) as mqttPacket.IConnackPacket).sessionPresent, true);
    const rel = await r.nextPacket();
    assert.equal(rel.cmd, 'pubrel');
    assert.equal(rel.messageId, p1.messageId);
    const again = await r.nextPacket() as mqttPacket.IPublishPacket;
    assert.equal(again.payload.toString(), 'second');
    assert.equal(again.messageId, p2.messageId);
    assert.equal(again.dup, true);
    r.send({ cmd: 'pubcomp', messageId: p1.messageId });
    r.send({ ...pub1(`in/${clientId}`, 'inbound', 77, 2), dup: true });
    assert.equal((await r.nextPacket()).cmd, 'pubrec');
    r.send({ cmd: 'pubrel', messageId: 77 });
    assert.equal((await r.nextPacket()).cmd, 'pubcomp');
    assert.ok(await watched.quiet(200), 'the resent QoS 2 PUBLISH was not published again');
    r.close();
  });

  it('takes over a session: the old connection is closed (MQTT 5: DISCONNECT 0x8E)', async () => {
    const clientId = uid('t');
    const old = await connect(t.url, { protocolVersion: 5, clientId, clean: false, properties: { sessionExpiryInterval: 60 } });
    await old.subscribeAsync(`take/${clientId}`, { qos: 1 });
    const reason = new Promise<number | undefined>((resolve) => old.once('disconnect', (p) => resolve(p.reasonCode)));
    const { client, connack } = await connectInbox(t.url, { protocolVersion: 5, clientId, clean: false, properties: { sessionExpiryInterval: 60 } });
    assert.equal(await reason, 0x8e);
    assert.equal(connack.sessionPresent, true);
    const inbox = new Inbox(client);
    const pub = await connect(t.url);
    await pub.publishAsync(`take/${clientId}`, 'to the new one', { qos: 1 });
    assert.equal((await inbox.next()).payload.toString(), 'to the new one');
  });

  it('takes over an MQTT 3.1.1 session (old socket closed)', async () => {
    const clientId = uid('t4');
    const r = await rawConnected(t.port, 4, { clientId });
    await connect(t.url, { clientId });
    await r.closed;
  });

  it('enforces keep-alive (1.5 x) and publishes the will', async () => {
    const clientId = uid('k');
    const watcher = await connect(t.url);
    const inbox = new Inbox(watcher);
    await watcher.subscribeAsync(`will/${clientId}`, { qos: 1 });
    const r = await rawConnected(t.port, 4, { clientId, keepalive: 1, will: { topic: `will/${clientId}`, payload: Buffer.from('gone'), qos: 1, retain: false } });
    await r.closed;
    assert.equal((await inbox.next()).payload.toString(), 'gone');
  });

  it('keeps a connection that sends PINGREQ within keep-alive', async () => {
    const r = await rawConnected(t.port, 4, { keepalive: 1 });
    for (let i = 0; i < 4; i++) {
      await sleep(500);
      r.send({ cmd: 'pingreq' });
      assert.equal((await r.nextPacket()).cmd, 'pingresp');
    }
    assert.equal(r.isClosed(), false);
    r.close();
  });

  it('bounds an offline session queue: the oldest messages are dropped and counted', async () => {
    await t.close();
    t = await startMqtt({ mqtt: { maxQueuedMessages: 5 } });
    const clientId = uid('b');
    const first = await connect(t.url, { clientId, clean: false });
    await first.subscribeAsync(`bound/${clientId}`, { qos: 1 });
    await first.endAsync();
    const pub = await connect(t.url);
    for (let i = 0; i < 8; i++) await pub.publishAsync(`bound/${clientId}`, `m${i}`, { qos: 1 });
    const q = t.b.broker.getQueue(`mqtt.session.${clientId}`)!;
    assert.equal(q.stats.dropped, 3);
    const { inbox } = await connectInbox(t.url, { clientId, clean: false });
    assert.deepEqual((await inbox.waitCount(5)).map((m) => m.payload.toString()), ['m3', 'm4', 'm5', 'm6', 'm7']);
  });
});

describe('mqtt restart with the file store', () => {
  let dir: string;
  let t: MqttTestBroker;
  before(async () => {
    dir = tempDir('junction-mqtt-');
    t = await startMqtt({ dataDir: dir });
  });
  after(async () => {
    await endAll();
    await t.close();
    removeTempDir(dir);
  });

  it('keeps sessions, queued QoS 1 messages, QoS 2 state and retained messages in --data-dir', async () => {
    const clientId = uid('fs');
    const topic = `fs/${clientId}`;
    const first = await connect(t.url, { protocolVersion: 5, clientId, clean: false, properties: { sessionExpiryInterval: 3600 } });
    await first.subscribeAsync(topic, { qos: 2 });
    await first.endAsync();
    const pub = await connect(t.url);
    await pub.publishAsync(topic, 'one', { qos: 1 });
    await pub.publishAsync(topic, 'two', { qos: 2 });
    await pub.publishAsync(`${topic}/state`, 'retained', { qos: 1, retain: true });
    await endAll();
    t = await t.restart();
    const { inbox, connack } = await connectInbox(t.url, { protocolVersion: 5, clientId, clean: false, properties: { sessionExpiryInterval: 3600 } });
    assert.equal(connack.sessionPresent, true);
    const got = await inbox.waitCount(2);
    assert.deepEqual(got.map((m) => [m.payload.toString(), m.packet.qos]), [['one', 1], ['two', 2]]);
    const later = await connect(t.url);
    const li = new Inbox(later);
    await later.subscribeAsync(`${topic}/state`, { qos: 1 });
    assert.equal((await li.next()).payload.toString(), 'retained');
  });
});

describe('mqtt session expiry', () => {
  let t: MqttTestBroker;
  beforeEach(async () => { t = await startMqtt(); });
  afterEach(async () => { await endAll(); await t.close(); });

  it('deletes an MQTT 5 session once its expiry interval has passed', async () => {
    const clientId = uid('e');
    const c = await connect(t.url, { protocolVersion: 5, clientId, clean: false, properties: { sessionExpiryInterval: 1 } });
    await c.subscribeAsync(`exp/${clientId}`, { qos: 1 });
    await c.endAsync();
    assert.ok(t.b.broker.getQueue(`mqtt.session.${clientId}`));
    await eventually(() => t.b.broker.getQueue(`mqtt.session.${clientId}`) === undefined, { timeout: 5000, what: 'session queue deleted' });
    const { connack } = await connectInbox(t.url, { protocolVersion: 5, clientId, clean: false, properties: { sessionExpiryInterval: 1 } });
    assert.equal(connack.sessionPresent, false);
  });

  it('an MQTT 5 session with expiry 0 ends with the connection', async () => {
    const clientId = uid('e0');
    const c = await connect(t.url, { protocolVersion: 5, clientId, clean: false });
    await c.subscribeAsync(`exp0/${clientId}`, { qos: 1 });
    await c.endAsync();
    await eventually(() => t.b.broker.getQueue(`mqtt.session.${clientId}`) === undefined, { what: 'session queue deleted' });
  });

  it('DISCONNECT may shorten the expiry; raising it from 0 is a protocol error', async () => {
    const clientId = uid('ed');
    const c = await connect(t.url, { protocolVersion: 5, clientId, clean: false, properties: { sessionExpiryInterval: 3600 } });
    await c.subscribeAsync(`expd/${clientId}`, { qos: 1 });
    await c.endAsync(false, { reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
    await eventually(() => t.b.broker.getQueue(`mqtt.session.${clientId}`) === undefined, { what: 'session ended on DISCONNECT' });
    const r = await rawConnected(t.port, 5, { clientId: uid('ed0') });
    r.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 10 } } as mqttPacket.IDisconnectPacket);
    const d = await r.nextPacket() as mqttPacket.IDisconnectPacket;
    assert.equal(d.cmd, 'disconnect');
    assert.equal(d.reasonCode, 0x82);
    await r.closed;
  });

  it('deletes sessions whose expiry passed while the broker was down', async () => {
    const short = uid('down');
    const long = uid('up');
    for (const [clientId, expiry] of [[short, 1], [long, 3600]] as const) {
      const c = await connect(t.url, { protocolVersion: 5, clientId, clean: false, properties: { sessionExpiryInterval: expiry } });
      await c.subscribeAsync(`down/${clientId}`, { qos: 1 });
      await c.endAsync();
    }
    await t.close();
    await sleep(1100);
    t = await t.restart();
    assert.equal(t.b.broker.getQueue(`mqtt.session.${short}`), undefined);
    assert.ok(t.b.broker.getQueue(`mqtt.session.${long}`));
  });
});
