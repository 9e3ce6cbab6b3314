/** QoS 0/1/2 flows for MQTT 3.1, 3.1.1 and 5.0; wildcards and $-topics; acknowledgement after storage. */
import assert from 'node:assert/strict';
import type mqttPacket from 'mqtt-packet';
import type { JournalEntry } from '../../core/store.js';
import { MemoryStore } from '../../core/storage/memory-store.js';
import { connect, endAll, Inbox, raw, rawConnected, startMqtt, uid, type MqttTestBroker } from './helpers.js';
import { eventually } from '../support/index.js';

describe('mqtt QoS flows', () => {
  let t: MqttTestBroker;
  before(async () => { t = await startMqtt(); });
  afterEach(endAll);
  after(async () => { await t.close(); });

  for (const protocolVersion of [3, 4, 5] as const) {
    describe(`protocol level ${protocolVersion}`, () => {
      for (const qos of [0, 1, 2] as const) {
        it(`QoS ${qos} end to end, in order, payload bytes intact`, async () => {
          const topic = `qos/${uid()}`;
          const sub = await connect(t.url, { protocolVersion });
          const inbox = new Inbox(sub);
          await sub.subscribeAsync(topic, { qos });
          const pub = await connect(t.url, { protocolVersion });
          const payloads = Array.from({ length: 20 }, (_, i) => Buffer.from([i, 0, 255, 10, 13]));
          for (const p of payloads) await pub.publishAsync(topic, p, { qos });
          const got = await inbox.waitCount(20);
          assert.deepEqual(got.map((m) => m.payload), payloads);
          for (const m of got) assert.equal(m.packet.qos, qos);
        });
      }
    });
  }

  it('delivers at the lower of published and granted QoS', async () => {
    const topic = `down/${uid()}`;
    const sub = await connect(t.url);
    const inbox = new Inbox(sub);
    await sub.subscribeAsync(topic, { qos: 1 });
    const pub = await connect(t.url);
    await pub.publishAsync(topic, 'q2', { qos: 2 });
    await pub.publishAsync(topic, 'q0', { qos: 0 });
    const [a, b] = await inbox.waitCount(2);
    assert.equal(a.packet.qos, 1);
    assert.equal(b.packet.qos, 0);
  });

  it('matches + and # wildcards (# includes the parent level)', async () => {
    const base = uid('w');
    const sub = await connect(t.url);
    const plus = new Inbox(sub);
    await sub.subscribeAsync(`${base}/+/temp`, { qos: 0 });
    const sub2 = await connect(t.url);
    const hash = new Inbox(sub2);
    await sub2.subscribeAsync(`${base}/#`, { qos: 0 });
    const pub = await connect(t.url);
    for (const topic of [`${base}/room1/temp`, `${base}/room1/humidity`, `${base}`, `${base}/a/b/c`, `${base}//temp`]) {
      await pub.publishAsync(topic, topic, { qos: 1 });
    }
    await hash.waitCount(5);
    await plus.waitCount(2);
    assert.deepEqual(plus.messages.map((m) => m.topic), [`${base}/room1/temp`, `${base}//temp`]);
    assert.deepEqual(hash.messages.map((m) => m.topic).sort(), [`${base}`, `${base}//temp`, `${base}/a/b/c`, `${base}/room1/humidity`, `${base}/room1/temp`].sort());
  });

  it('keeps dots in MQTT topics (they swap with / in the core)', async () => {
    const sub = await connect(t.url);
    const inbox = new Inbox(sub);
    await sub.subscribeAsync('dots/+/v1.2', { qos: 1 });
    const pub = await connect(t.url);
    await pub.publishAsync('dots/x.y/v1.2', 'd', { qos: 1 });
    assert.equal((await inbox.next()).topic, 'dots/x.y/v1.2');
  });

  it('does not match $-topics with a leading wildcard', async () => {
    const sub = await connect(t.url);
    const all = new Inbox(sub);
    await sub.subscribeAsync(['#', '+/status'], { qos: 0 });
    const sys = await connect(t.url);
    const sysInbox = new Inbox(sys);
    await sys.subscribeAsync('$SYS/#', { qos: 0 });
    const pub = await connect(t.url);
    await pub.publishAsync('$SYS/status', 'x', { qos: 1 });
    await sysInbox.next();
    assert.ok(await all.quiet(200));
    assert.equal(all.messages.filter((m) => m.topic.startsWith('$')).length, 0);
  });

  it('QoS 2: a resent PUBLISH (same packet id, DUP) is not published twice', async () => {
    const topic = `dup/${uid()}`;
    const sub = await connect(t.url);
    const inbox = new Inbox(sub);
    await sub.subscribeAsync(topic, { qos: 2 });
    const r = await rawConnected(t.port);
    const p = { cmd: 'publish', topic, payload: Buffer.from('once'), qos: 2, messageId: 7, retain: false, dup: false } as mqttPacket.IPublishPacket;
    r.send(p);
    assert.equal((await r.nextPacket()).cmd, 'pubrec');
    r.send({ ...p, dup: true });
    assert.equal((await r.nextPacket()).cmd, 'pubrec');
    r.send({ cmd: 'pubrel', messageId: 7 });
    const comp = await r.nextPacket();
    assert.equal(comp.cmd, 'pubcomp');
    assert.equal(comp.messageId, 7);
    await inbox.next();
    assert.ok(await inbox.quiet(200));
    assert.equal(inbox.messages.length, 1);
    r.close();
  });

  it('QoS 2 outbound: PUBLISH, PUBREC -> PUBREL, PUBCOMP (raw client)', async () => {
    const topic = `out2/${uid()}`;
    const r = await rawConnected(t.port);
    r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 2 }] } as mqttPacket.ISubscribePacket);
    const suback = await r.nextPacket() as mqttPacket.ISubackPacket;
    assert.deepEqual(suback.granted, [2]);
    const pub = await connect(t.url);
    await pub.publishAsync(topic, 'x', { qos: 2 });
    const p = await r.nextPacket() as mqttPacket.IPublishPacket;
    assert.equal(p.cmd, 'publish');
    assert.equal(p.qos, 2);
    r.send({ cmd: 'pubrec', messageId: p.messageId });
    const rel = await r.nextPacket();
    assert.equal(rel.cmd, 'pubrel');
    assert.equal(rel.messageId, p.messageId);
    r.send({ cmd: 'pubcomp', messageId: p.messageId });
    r.send({ cmd: 'pingreq' });
    assert.equal((await r.nextPacket()).cmd, 'pingresp');
    r.close();
  });

  it('acknowledges PUBACKs in the order the PUBLISHes arrived', async () => {
    const r = await rawConnected(t.port);
    const q = `ordered-${uid()}`;
    await t.b.broker.declareQueue(q, { durable: true });
    await t.b.broker.bindQueue(q, 'ordered.durable');
    for (let i = 1; i <= 50; i++) {
      r.send({ cmd: 'publish', topic: i % 2 ? 'ordered/durable' : 'ordered/nowhere', payload: Buffer.from('x'), qos: 1, messageId: i, retain: false, dup: false } as mqttPacket.IPublishPacket);
    }
    const ids: number[] = [];
    for (let i = 0; i < 50; i++) ids.push((await r.nextPacket()).messageId!);
    assert.deepEqual(ids, Array.from({ length: 50 }, (_, i) => i + 1));
    r.close();
    await t.b.broker.deleteQueue(q);
  });
});

/** A store whose journal writes wait for a gate: shows PUBACK waits for storage. */
class GatedStore extends MemoryStore {
  gate: Promise<void> | null = null;
  open_(): void { this.gate = null; }
  override async journal(entries: JournalEntry[]): Promise<void> {
    if (this.gate && entries.some((e) => e.kind === 'enqueue')) await this.gate;
    return super.journal(entries);
  }
}

describe('mqtt acknowledgement after storage', () => {
  it('sends PUBACK only once the durable queue has stored the message', async () => {
    const store = new GatedStore();
    const t = await startMqtt({ store });
    try {
      await t.b.broker.declareQueue('stored', { durable: true });
      await t.b.broker.bindQueue('stored', 'gate.#');
      let release!: () => void;
      store.gate = new Promise((r) => (release = r));
      const r = await rawConnected(t.port);
      r.send({ cmd: 'publish', topic: 'gate/1', payload: Buffer.from('x'), qos: 1, messageId: 3, retain: false, dup: false } as mqttPacket.IPublishPacket);
      await eventually(() => t.b.broker.getQueue('stored')!.messageCount === 1, { what: 'message queued' });
      await assert.rejects(r.nextPacket(200), /no packet/);
      release();
      const ack = await r.nextPacket();
      assert.equal(ack.cmd, 'puback');
      assert.equal(ack.messageId, 3);
      r.close();
    } finally {
      await t.close();
    }
  });

  it('a raw client can connect with MQTT 3.1 (MQIsdp)', async () => {
    const t = await startMqtt();
    try {
      const r = await raw(t.port, 3);
      r.send({ cmd: 'connect', protocolId: 'MQIsdp', protocolVersion: 3, clean: true, keepalive: 0, clientId: 'old-client' } as mqttPacket.IConnectPacket);
      const ack = await r.nextPacket() as mqttPacket.IConnackPacket;
      assert.equal(ack.returnCode, 0);
      r.close();
    } finally {
      await t.close();
    }
  });
});
