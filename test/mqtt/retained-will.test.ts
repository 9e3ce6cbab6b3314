/** Retained messages (in the core, across restarts) and last will (with MQTT 5 will delay). */
import assert from 'node:assert/strict';
import type mqttPacket from 'mqtt-packet';
import { connect, connectInbox, endAll, Inbox, rawConnected, startMqtt, uid, type MqttTestBroker } from './helpers.js';
import { eventually } from '../support/index.js';

describe('mqtt retained messages', () => {
  let t: MqttTestBroker;
  beforeEach(async () => { t = await startMqtt(); });
  afterEach(async () => { await endAll(); await t.close(); });

  it('delivers the retained message to a later subscriber, with RETAIN set, and keeps it in the core', async () => {
    const topic = `ret/${uid()}/state`;
    const pub = await connect(t.url);
    await pub.publishAsync(topic, 'on', { qos: 1, retain: true });
    assert.equal(t.b.broker.retained.get(topic.replaceAll('/', '.'))?.payload.toString(), 'on');
    const sub = await connect(t.url);
    const inbox = new Inbox(sub);
    await sub.subscribeAsync(topic, { qos: 1 });
    const m = await inbox.next();
    assert.equal(m.payload.toString(), 'on');
    assert.equal(m.packet.retain, true);
    assert.equal(m.packet.qos, 1);
  });

  it('delivers retained messages to wildcard subscribers; live messages have RETAIN 0 (3.1.1)', async () => {
    const base = uid('rw');
    const pub = await connect(t.url);
    await pub.publishAsync(`${base}/a`, 'A', { qos: 0, retain: true });
    await pub.publishAsync(`${base}/b/c`, 'BC', { qos: 1, retain: true });
    const sub = await connect(t.url);
    const inbox = new Inbox(sub);
    await sub.subscribeAsync(`${base}/#`, { qos: 1 });
    const got = await inbox.waitCount(2);
    assert.deepEqual(got.map((m) => m.payload.toString()).sort(), ['A', 'BC']);
    assert.ok(got.every((m) => m.packet.retain));
    await pub.publishAsync(`${base}/a`, 'live', { qos: 1, retain: true });
    const live = await inbox.next();
    assert.equal(live.payload.toString(), 'live');
    assert.equal(live.packet.retain, false);
  });

  it('an empty retained payload clears it (and is delivered to current subscribers)', async () => {
    const topic = `clear/${uid()}`;
    const pub = await connect(t.url);
    await pub.publishAsync(topic, 'x', { qos: 1, retain: true });
    const sub = await connect(t.url);
    const inbox = new Inbox(sub);
    await sub.subscribeAsync(topic, { qos: 1 });
    await inbox.next();
    await pub.publishAsync(topic, '', { qos: 1, retain: true });
    assert.equal((await inbox.next()).payload.length, 0);
    assert.equal(t.b.broker.retained.get(topic.replaceAll('/', '.')), undefined);
    const later = await connect(t.url);
    const laterInbox = new Inbox(later);
    await later.subscribeAsync(topic, { qos: 1 });
    assert.ok(await laterInbox.quiet(200));
  });

  it('survives a broker restart', async () => {
    const topic = `persist/${uid()}`;
    const pub = await connect(t.url);
    await pub.publishAsync(topic, 'kept', { qos: 1, retain: true });
    await endAll();
    t = await t.restart();
    const sub = await connect(t.url);
    const inbox = new Inbox(sub);
    await sub.subscribeAsync(topic, { qos: 1 });
    const m = await inbox.next();
    assert.equal(m.payload.toString(), 'kept');
    assert.equal(m.packet.retain, true);
  });

  it('is not sent to shared subscriptions', async () => {
    const topic = `sharedret/${uid()}`;
    const pub = await connect(t.url);
    await pub.publishAsync(topic, 'r', { qos: 1, retain: true });
    const sub = await connect(t.url, { protocolVersion: 5 });
    const inbox = new Inbox(sub);
    await sub.subscribeAsync(`$share/g/${topic}`, { qos: 1 });
    assert.ok(await inbox.quiet(200));
  });
});

describe('mqtt last will', () => {
  let t: MqttTestBroker;
  beforeEach(async () => { t = await startMqtt(); });
  afterEach(async () => { await endAll(); await t.close(); });

  async function watch(topic: string): Promise<Inbox> {
    const w = await connect(t.url, { protocolVersion: 5 });
    const inbox = new Inbox(w);
    await w.subscribeAsync(topic, { qos: 1 });
    return inbox;
  }

  for (const protocolVersion of [3, 4, 5] as const) {
    it(`is published when the connection drops (protocol ${protocolVersion}), not after DISCONNECT`, async () => {
      const topic = `will/${uid()}`;
      const inbox = await watch(topic);
      const dropper = await connect(t.url, { protocolVersion, will: { topic, payload: Buffer.from('dropped'), qos: 1, retain: false } });
      (dropper.stream as unknown as { destroy(): void }).destroy();
      assert.equal((await inbox.next()).payload.toString(), 'dropped');
      const polite = await connect(t.url, { protocolVersion, will: { topic, payload: Buffer.from('polite'), qos: 1, retain: false } });
      await polite.endAsync();
      assert.ok(await inbox.quiet(300));
    });
  }

  it('retained will is stored as the retained message', async () => {
    const topic = `willret/${uid()}`;
    const c = await connect(t.url, { will: { topic, payload: Buffer.from('offline'), qos: 1, retain: true } });
    (c.stream as unknown as { destroy(): void }).destroy();
    await eventually(() => t.b.broker.retained.get(topic.replaceAll('/', '.'))?.payload.toString() === 'offline', { what: 'retained will' });
  });

  it('MQTT 5 will properties reach the subscriber', async () => {
    const topic = `willprops/${uid()}`;
    const inbox = await watch(topic);
    const c = await connect(t.url, {
      protocolVersion: 5,
      will: { topic, payload: Buffer.from('{}'), qos: 1, retain: false, properties: { contentType: 'application/json', userProperties: { reason: 'crash' }, payloadFormatIndicator: true } },
    });
    (c.stream as unknown as { destroy(): void }).destroy();
    const m = await inbox.next();
    assert.equal(m.packet.properties?.contentType, 'application/json');
    assert.deepEqual({ ...m.packet.properties?.userProperties }, { reason: 'crash' });
    assert.equal(m.packet.properties?.payloadFormatIndicator, true);
  });

  it('MQTT 5 DISCONNECT with reason 0x04 publishes the will', async () => {
    const topic = `will04/${uid()}`;
    const inbox = await watch(topic);
    const c = await connect(t.url, { protocolVersion: 5, will: { topic, payload: Buffer.from('asked'), qos: 1, retain: false } });
    await c.endAsync(false, { reasonCode: 0x04 });
    assert.equal((await inbox.next()).payload.toString(), 'asked');
  });

  it('MQTT 5 will delay: sent after the delay, not sent if the session resumes in time', async () => {
    const topic = `willdelay/${uid()}`;
    const inbox = await watch(topic);
    const clientId = uid('wd');
    const opts = { protocolVersion: 5 as const, clientId, clean: false, properties: { sessionExpiryInterval: 60 } };
    const willOf = (payload: string, delay: number) => ({ topic, payload: Buffer.from(payload), qos: 1 as const, retain: false, properties: { willDelayInterval: delay } });
    // Resumed within the delay: no will.
    const a = await connect(t.url, { ...opts, will: willOf('resumed', 2) });
    (a.stream as unknown as { destroy(): void }).destroy();
    await connect(t.url, opts);
    assert.ok(await inbox.quiet(2500), 'no will when the session resumed');
    await endAll();
    // Not resumed: the will arrives once the delay has passed.
    const inbox2 = await watch(topic);
    const b = await connect(t.url, { ...opts, will: willOf('late', 1) });
    (b.stream as unknown as { destroy(): void }).destroy();
    assert.equal((await inbox2.next(5000)).payload.toString(), 'late');
  });

  it('will delay is cut short when the session ends (expiry 0)', async () => {
    const topic = `willend/${uid()}`;
    const inbox = await watch(topic);
    const c = await connect(t.url, { protocolVersion: 5, will: { topic, payload: Buffer.from('now'), qos: 1, retain: false, properties: { willDelayInterval: 3600 } } });
    (c.stream as unknown as { destroy(): void }).destroy();
    assert.equal((await inbox.next()).payload.toString(), 'now');
  });

  it('a session takeover publishes the old connection\'s will (3.1.1)', async () => {
    const topic = `willtake/${uid()}`;
    const inbox = await watch(topic);
    const clientId = uid('wt');
    const r = await rawConnected(t.port, 4, { clientId, will: { topic, payload: Buffer.from('taken'), qos: 1, retain: false } } as Partial<mqttPacket.IConnectPacket>);
    await connectInbox(t.url, { clientId });
    await r.closed;
    assert.equal((await inbox.next()).payload.toString(), 'taken');
  });
});
