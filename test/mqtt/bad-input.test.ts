/**
 * Hostile input over raw TCP: every case gets the protocol's reason code or a close, is logged
 * once, never crashes the broker, and a healthy client keeps working throughout.
 */
import assert from 'node:assert/strict';
import mqttPacket from 'mqtt-packet';
import type { MqttClient } from 'mqtt';
import { connect, endAll, Inbox, raw, rawConnected, sleep, startMqtt, uid, type MqttTestBroker, type RawClient } from './helpers.js';

const connectBytes = (version: 4 | 5, clientId = uid('bad')): Buffer =>
  mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clean: true, keepalive: 0, clientId });

describe('mqtt bad input', () => {
  let t: MqttTestBroker;
  let healthy: MqttClient;
  let healthyInbox: Inbox;
  let round = 0;

  before(async () => {
    t = await startMqtt({ mqtt: { maxConnectPacketSize: 1024, maxPacketSize: 64 * 1024, connectTimeoutMs: 300 } });
    healthy = await connect(t.url, { protocolVersion: 5 });
    healthyInbox = new Inbox(healthy);
    await healthy.subscribeAsync('healthy/#', { qos: 1 });
  });
  afterEach(async () => {
    // Other clients are unaffected: the healthy connection still publishes and receives.
    const n = ++round;
    await healthy.publishAsync(`healthy/${n}`, `${n}`, { qos: 1 });
    await healthyInbox.waitCount(n);
  });
  after(async () => { await endAll(); await t.close(); });

  function warnings(): number {
    return t.logs.filter((l) => l.level === 'warn').length;
  }

  async function expectClosed(r: RawClient, expect?: { disconnect?: number }): Promise<void> {
    if (expect?.disconnect !== undefined) {
      const d = await r.nextPacket() as mqttPacket.IDisconnectPacket;
      assert.equal(d.cmd, 'disconnect');
      assert.equal(d.reasonCode, expect.disconnect);
    }
    await r.closed;
  }

  it('garbage before CONNECT: closed, logged once', async () => {
    const before = warnings();
    const r = await raw(t.port);
    r.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await expectClosed(r);
    assert.equal(warnings() - before, 1);
  });

  it('a packet before CONNECT: closed', async () => {
    const r = await raw(t.port);
    r.send({ cmd: 'publish', topic: 'a', payload: Buffer.from('x'), qos: 0, retain: false, dup: false } as mqttPacket.IPublishPacket);
    await expectClosed(r);
  });

  it('a second CONNECT: MQTT 5 DISCONNECT 0x82; 3.1.1 closed', async () => {
    const r5 = await rawConnected(t.port, 5);
    r5.write(connectBytes(5));
    await expectClosed(r5, { disconnect: 0x82 });
    const r4 = await rawConnected(t.port, 4);
    r4.write(connectBytes(4));
    await expectClosed(r4);
  });

  it('an unsupported protocol level: CONNACK 0x01, closed', async () => {
    const r = await raw(t.port);
    const bytes = Buffer.from(connectBytes(4));
    bytes[8] = 6; // protocol level
    r.write(bytes);
    const ack = await r.nextPacket() as mqttPacket.IConnackPacket;
    assert.equal(ack.returnCode, 1);
    await r.closed;
  });

  it('a wrong protocol name or reserved CONNECT flag: closed', async () => {
    const bytes = Buffer.from(connectBytes(4));
    bytes[4] = 0x58; // 'X'QTT
    const r = await raw(t.port);
    r.write(bytes);
    await expectClosed(r);
    const flags = Buffer.from(connectBytes(4));
    flags[9] |= 1; // reserved bit
    const r2 = await raw(t.port);
    r2.write(flags);
    await expectClosed(r2);
  });

  it('an oversize CONNECT is refused from its header', async () => {
    const r = await raw(t.port);
    r.write(Buffer.from([0x10, 0xff, 0xff, 0x7f])); // remaining length ~2 MB, nothing more sent
    await expectClosed(r);
  });

  it('an oversize packet after CONNECT: MQTT 5 DISCONNECT 0x95', async () => {
    const r = await rawConnected(t.port, 5);
    r.write(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]));
    await expectClosed(r, { disconnect: 0x95 });
  });

  it('a remaining length of more than four bytes: closed', async () => {
    const r = await rawConnected(t.port, 4);
    r.write(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x80, 0x01]));
    await expectClosed(r);
  });

  it('malformed packets: bad fixed-header flags, QoS 3, reserved type, truncated fields', async () => {
    const cases: Array<[string, number[]]> = [
      ['SUBSCRIBE with flags 0', [0x80, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x00]],
      ['PUBLISH QoS 3', [0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01]],
      ['reserved type 0', [0x00, 0x00]],
      ['AUTH in 3.1.1', [0xf0, 0x00]],
      ['PUBLISH topic longer than the packet', [0x30, 0x03, 0x00, 0x09, 0x61]],
      ['SUBSCRIBE QoS 3', [0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x03]],
      ['QoS 1 PUBLISH with packet id 0', [0x32, 0x05, 0x00, 0x01, 0x61, 0x00, 0x00]],
      ['SUBSCRIBE without filters', [0x82, 0x02, 0x00, 0x01]],
    ];
    for (const [what, bytes] of cases) {
      const r = await rawConnected(t.port, 4);
      r.write(bytes);
      await r.closed.then(() => undefined, () => assert.fail(what));
    }
  });

  it('PUBACK/PUBREC/PUBREL/PUBCOMP/SUBSCRIBE/UNSUBSCRIBE with remaining length 0 or 1: MQTT 5 DISCONNECT 0x81, 3.1.1 closed, no error logged', async () => {
    const errorsBefore = t.logs.filter((l) => l.level === 'error').length;
    const types: Array<[string, number]> = [['PUBACK', 0x40], ['PUBREC', 0x50], ['PUBREL', 0x62], ['PUBCOMP', 0x70], ['SUBSCRIBE', 0x82], ['UNSUBSCRIBE', 0xa2]];
    for (const [what, first] of types) {
      for (const body of [[], [0x00]]) {
        const r5 = await rawConnected(t.port, 5);
        r5.write([first, body.length, ...body]);
        await expectClosed(r5, { disconnect: 0x81 }).catch((err: Error) => assert.fail(`${what} length ${body.length} (v5): ${err.message}`));
        const r4 = await rawConnected(t.port, 4);
        r4.write([first, body.length, ...body]);
        await r4.closed;
        assert.deepEqual(r4.packets.map((p) => p.cmd), ['connack'], `${what} length ${body.length} (3.1.1): nothing sent back`);
      }
    }
    const errors = t.logs.filter((l) => l.level === 'error').slice(errorsBefore);
    assert.deepEqual(errors.map((l) => l.msg), []);
  });

  it('MQTT 3.1.1 acknowledgements longer than 2 bytes: closed', async () => {
    const r = await rawConnected(t.port, 4);
    r.write([0x40, 0x03, 0x00, 0x01, 0x00]);
    await r.closed;
  });

  it('invalid UTF-8 or U+0000 in a PUBLISH topic: closed (MQTT 5: DISCONNECT 0x81)', async () => {
    const bad = Buffer.from([0x30, 0x06, 0x00, 0x03, 0x61, 0xff, 0x62, 0x78]);
    const r5 = await rawConnected(t.port, 5);
    r5.write(Buffer.from([0x30, 0x07, 0x00, 0x03, 0x61, 0xff, 0x62, 0x00, 0x78]));
    await expectClosed(r5, { disconnect: 0x81 });
    const r4 = await rawConnected(t.port, 4);
    r4.write(bad);
    await expectClosed(r4);
    const nul = await rawConnected(t.port, 4);
    nul.write(Buffer.from([0x30, 0x06, 0x00, 0x03, 0x61, 0x00, 0x62, 0x78]));
    await expectClosed(nul);
  });

  it('wildcards in a PUBLISH topic: MQTT 5 DISCONNECT 0x90; 3.1.1 closed', async () => {
    const r5 = await rawConnected(t.port, 5);
    r5.send({ cmd: 'publish', topic: 'a/+/b', payload: Buffer.from('x'), qos: 0, retain: false, dup: false } as mqttPacket.IPublishPacket);
    await expectClosed(r5, { disconnect: 0x90 });
    const r4 = await rawConnected(t.port, 4);
    r4.send({ cmd: 'publish', topic: 'a/#', payload: Buffer.from('x'), qos: 1, messageId: 1, retain: false, dup: false } as mqttPacket.IPublishPacket);
    await expectClosed(r4);
  });

  it('invalid UTF-8 in a subscription filter: closed', async () => {
    const r = await rawConnected(t.port, 4);
    r.write(Buffer.from([0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 0xc3, 0x00]));
    await expectClosed(r);
  });

  it('no CONNECT within the connect timeout: closed', async () => {
    const r = await raw(t.port);
    await r.closed;
  });

  it('a CONNECT cut off in the middle, then close: nothing breaks', async () => {
    const r = await raw(t.port);
    r.write(connectBytes(4).subarray(0, 7));
    r.close();
    await r.closed;
  });

  it('random bytes after CONNECT on many connections: the broker stays up', async () => {
    let seed = 12345;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    for (let i = 0; i < 60; i++) {
      const r = await rawConnected(t.port, i % 2 ? 5 : 4);
      const junk = Buffer.alloc(1 + Math.floor(rnd() * 200));
      for (let j = 0; j < junk.length; j++) junk[j] = Math.floor(rnd() * 256);
      r.write(junk);
      await Promise.race([r.closed, sleep(50)]);
      r.close();
    }
    const probe = await connect(t.url);
    await probe.publishAsync('fuzz/done', 'ok', { qos: 1 });
  });

  it('a flood of bad connections is logged at a bounded rate', async () => {
    const before = warnings();
    await Promise.all(Array.from({ length: 100 }, async () => {
      const r = await raw(t.port);
      r.write(Buffer.from([0xff, 0xff, 0xff]));
      await r.closed;
    }));
    assert.ok(warnings() - before <= 21, `at most the per-window allowance, got ${warnings() - before}`);
  });
});
