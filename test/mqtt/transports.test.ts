/** MQTT over WebSocket (/mqtt on the HTTP listener, subprotocol mqtt) and over TLS; authentication and authorisation. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { createUserRecord, MemoryUserStore } from '../../plugins/auth/index.js';
import { removeTempDir, requireDebianClient, selfSignedCert, tempDir, TEST_HOST } from '../support/index.js';
import { connect, connectRefused, endAll, Inbox, rawConnected, startMqtt, uid, type MqttTestBroker } from './helpers.js';
import type mqttPacket from 'mqtt-packet';

describe('mqtt over WebSocket', () => {
  let t: MqttTestBroker;
  before(async () => { t = await startMqtt(); });
  afterEach(endAll);
  after(async () => { await t.close(); });

  for (const protocolVersion of [4, 5] as const) {
    it(`publishes and subscribes over ws://.../mqtt (protocol ${protocolVersion}), interoperating with TCP clients`, async () => {
      const topic = `ws/${uid()}`;
      const ws = await connect(t.wsUrl, { protocolVersion });
      const inbox = new Inbox(ws);
      await ws.subscribeAsync(topic, { qos: 1 });
      const tcp = await connect(t.url, { protocolVersion });
      const tcpInbox = new Inbox(tcp);
      await tcp.subscribeAsync(`${topic}/back`, { qos: 1 });
      await tcp.publishAsync(topic, 'from tcp', { qos: 1 });
      assert.equal((await inbox.next()).payload.toString(), 'from tcp');
      await ws.publishAsync(`${topic}/back`, Buffer.alloc(100_000, 7), { qos: 2 });
      assert.equal((await tcpInbox.next()).payload.length, 100_000);
    });
  }

  it('negotiates the mqtt subprotocol', async () => {
    const ws = new WebSocket(t.wsUrl, ['mqtt']);
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    assert.equal(ws.protocol, 'mqtt');
    ws.close();
  });
});

describe('mqtt over TLS', () => {
  let dir: string;
  let t: MqttTestBroker;
  before(requireDebianClient('openssl', 'openssl'));
  before(async () => {
    dir = tempDir();
    t = await startMqtt({ mqtt: { tls: selfSignedCert(dir) } });
  });
  afterEach(endAll);
  after(async () => {
    await t?.close();
    if (dir) removeTempDir(dir);
  });

  it('listens on the TLS port and carries messages to plain TCP clients', async () => {
    const port = t.b.ports['mqtt-tls'];
    assert.ok(port, 'mqtt-tls listener');
    assert.equal(t.b.ports.mqtts, port, 'the earlier name still reads it');
    assert.ok(!Object.keys(t.b.ports).includes('mqtts'), 'but is not listed');
    const secure = await connect(`mqtts://${TEST_HOST}:${port}`, { ca: readFileSync(join(dir, 'cert.pem')), servername: 'localhost' });
    const plain = await connect(t.url);
    const inbox = new Inbox(plain);
    await plain.subscribeAsync('tls/+', { qos: 1 });
    await secure.publishAsync('tls/x', 'secret', { qos: 1 });
    assert.equal((await inbox.next()).payload.toString(), 'secret');
  });
});

describe('mqtt authentication and authorisation', () => {
  let t: MqttTestBroker;
  before(async () => {
    const users = new MemoryUserStore({
      alice: await createUserRecord('wonderland', { N: 1024, r: 8, p: 1 }),
      bob: await createUserRecord('builder', { N: 1024, r: 8, p: 1 }),
    });
    t = await startMqtt({
      userStore: users,
      auth: {
        allowAnonymous: false,
        rules: [
          { user: 'alice', allow: ['publish', 'subscribe'], address: '#' },
          { user: 'bob', allow: ['publish'], address: 'bob.#' },
          { user: 'bob', allow: ['subscribe'], address: 'news.*' },
        ],
      },
    });
  });
  afterEach(endAll);
  after(async () => { await t.close(); });

  it('refuses a wrong password (3.1.1: 4, MQTT 5: 0x86) and no credentials (5 / 0x87)', async () => {
    assert.equal((await connectRefused(t.url, { username: 'alice', password: 'nope' })).code, 4);
    assert.equal((await connectRefused(t.url, { protocolVersion: 5, username: 'alice', password: 'nope' })).code, 0x86);
    assert.equal((await connectRefused(t.url, {})).code, 5);
    assert.equal((await connectRefused(t.url, { protocolVersion: 5 })).code, 0x87);
  });

  it('accepts good credentials', async () => {
    const c = await connect(t.url, { username: 'alice', password: 'wonderland' });
    assert.ok(c.connected);
  });

  it('authorises SUBSCRIBE per filter (3.1.1: 0x80, MQTT 5: 0x87)', async () => {
    const r4 = await rawConnected(t.port, 4, { username: 'bob', password: Buffer.from('builder') });
    r4.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: 'news/today', qos: 1 }, { topic: 'secret/#', qos: 1 }] } as mqttPacket.ISubscribePacket);
    assert.deepEqual(((await r4.nextPacket()) as mqttPacket.ISubackPacket).granted, [1, 0x80]);
    r4.close();
    const r = await rawConnected(t.port, 5, { username: 'bob', password: Buffer.from('builder') });
    r.send({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'news/+', qos: 1, nl: false, rap: false, rh: 0 }, { topic: 'news/#', qos: 1, nl: false, rap: false, rh: 0 }] } as mqttPacket.ISubscribePacket);
    const s = await r.nextPacket() as mqttPacket.ISubackPacket;
    assert.deepEqual(s.granted, [1, 0x87]);
    r.close();
  });

  it('authorises PUBLISH per topic: MQTT 5 PUBACK 0x87; 3.1.1 acknowledged and dropped', async () => {
    const alice = await connect(t.url, { username: 'alice', password: 'wonderland' });
    const inbox = new Inbox(alice);
    await alice.subscribeAsync('#', { qos: 1 });
    const r = await rawConnected(t.port, 5, { username: 'bob', password: Buffer.from('builder') });
    r.send({ cmd: 'publish', topic: 'alice/x', payload: Buffer.from('no'), qos: 1, messageId: 1, retain: false, dup: false } as mqttPacket.IPublishPacket);
    assert.equal(((await r.nextPacket()) as mqttPacket.IPubackPacket).reasonCode, 0x87);
    r.close();
    const bob4 = await connect(t.url, { username: 'bob', password: 'builder' });
    await bob4.publishAsync('alice/y', 'dropped', { qos: 1 });
    await bob4.publishAsync('bob/ok', 'allowed', { qos: 1 });
    const m = await inbox.next();
    assert.equal(m.topic, 'bob/ok');
    assert.ok(await inbox.quiet(200));
  });

  it('a will to a topic the client may not publish to is not sent', async () => {
    const alice = await connect(t.url, { username: 'alice', password: 'wonderland' });
    const inbox = new Inbox(alice);
    await alice.subscribeAsync('#', { qos: 1 });
    const bob = await connect(t.url, { username: 'bob', password: 'builder', will: { topic: 'alice/will', payload: Buffer.from('x'), qos: 1, retain: false } });
    (bob.stream as unknown as { destroy(): void }).destroy();
    assert.ok(await inbox.quiet(300));
  });
});
