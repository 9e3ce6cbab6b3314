/**
 * MQTT 5 enhanced authentication (spec 4.12) with SCRAM through the platform's SASL service:
 * MQTT.js sending CONNECT with an Authentication Method and answering the broker's AUTH packets
 * (its handleAuth hook; the SCRAM arithmetic is test/support/scram-client.ts), raw clients for
 * re-authentication, unknown names and protocol errors.
 */
import assert from 'node:assert/strict';
import { connect as mqttConnect, type IClientOptions, type MqttClient } from 'mqtt';
import type mqttPacket from 'mqtt-packet';
import { createUserRecord, MemoryUserStore } from '../../plugins/auth/index.js';
import { ScramClient, parseServerFirst, type ScramName } from '../support/scram-client.js';
import { startBroker, TEST_HOST, type RunningBroker } from '../support/index.js';
import { raw, uid, type RawClient } from './helpers.js';

const CONTINUE = 0x18;

/** MQTT.js with SCRAM over CONNECT + AUTH; resolves with the CONNACK or rejects with the client's error. */
function scramConnect(port: number, mechanism: ScramName, user: string, password: string): Promise<{ client: MqttClient; connack: mqttPacket.IConnackPacket; scram: ScramClient }> {
  const scram = new ScramClient(mechanism, user, password);
  const client = mqttConnect(`mqtt://${TEST_HOST}:${port}`, {
    protocolVersion: 5, clientId: uid('scram'), reconnectPeriod: 0, connectTimeout: 10000,
    properties: { authenticationMethod: mechanism, authenticationData: scram.first() },
  } as IClientOptions);
  client.handleAuth = (packet: mqttPacket.IAuthPacket, done: (err?: Error, p?: mqttPacket.IAuthPacket) => void) => {
    try {
      const data = scram.final(packet.properties!.authenticationData!);
      done(undefined, { cmd: 'auth', reasonCode: CONTINUE, properties: { authenticationMethod: mechanism, authenticationData: data } });
    } catch (e) {
      done(e as Error);
    }
  };
  return new Promise((resolve, reject) => {
    client.once('connect', (connack) => resolve({ client, connack, scram }));
    client.once('error', (err) => { client.end(true); reject(err); });
  });
}

/** A raw CONNECT with an authentication method and the first AUTH reply (or CONNACK). */
async function rawStart(port: number, mechanism: string, data?: Buffer): Promise<{ r: RawClient; reply: mqttPacket.Packet }> {
  const r = await raw(port, 5);
  r.send({
    cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 0, clientId: uid('raw'),
    properties: { authenticationMethod: mechanism, ...(data ? { authenticationData: data } : {}) },
  } as mqttPacket.IConnectPacket);
  return { r, reply: await r.nextPacket() };
}

describe('mqtt 5 enhanced authentication (SCRAM in CONNECT and AUTH)', function () {
  this.timeout(60000);
  let b: RunningBroker;
  let port: number;
  before(async () => {
    const users = new MemoryUserStore({ alice: await createUserRecord('wonderland', { N: 1024 }) });
    b = await startBroker({ protocols: ['mqtt'], userStore: users, auth: { allowAnonymous: false, maxFailuresPerMinute: 0 } } as never);
    port = b.ports.mqtt!;
  });
  after(async () => { await b?.close(); });

  for (const mechanism of ['SCRAM-SHA-256', 'SCRAM-SHA-512'] as const) {
    it(`MQTT.js logs in with ${mechanism}, checks the server signature in CONNACK, and publishes`, async () => {
      const { client, connack, scram } = await scramConnect(port, mechanism, 'alice', 'wonderland');
      try {
        assert.equal(connack.reasonCode, 0);
        assert.equal(connack.properties?.authenticationMethod, mechanism);
        assert.ok(scram.verify(connack.properties?.authenticationData), 'server-final v= proves the server');
        const topic = `scram/${uid()}`;
        await client.subscribeAsync(topic, { qos: 1 });
        const got = new Promise<string>((res) => client.once('message', (_t, payload) => res(payload.toString())));
        await client.publishAsync(topic, 'hello', { qos: 1 });
        assert.equal(await got, 'hello');
      } finally {
        await client.endAsync();
      }
    });

    it(`MQTT.js with ${mechanism} and a wrong password is refused with 0x87 (Not authorized)`, async () => {
      await assert.rejects(scramConnect(port, mechanism, 'alice', 'not-wonderland'), (err: Error & { code?: number }) => {
        assert.equal(err.code, 0x87, err.message);
        return true;
      });
    });
  }

  it('an unknown name gets a server-first message shaped like a known one, then the same refusal', async () => {
    const shapes = [];
    for (const user of ['alice', 'mallory']) {
      const scram = new ScramClient('SCRAM-SHA-256', user, 'guess');
      const { r, reply } = await rawStart(port, 'SCRAM-SHA-256', scram.first());
      assert.equal(reply.cmd, 'auth');
      const auth = reply as mqttPacket.IAuthPacket;
      assert.equal(auth.reasonCode, CONTINUE);
      assert.equal(auth.properties?.authenticationMethod, 'SCRAM-SHA-256');
      const sf = parseServerFirst(auth.properties!.authenticationData!);
      r.send({ cmd: 'auth', reasonCode: CONTINUE, properties: { authenticationMethod: 'SCRAM-SHA-256', authenticationData: scram.final(sf.text) } } as mqttPacket.IAuthPacket);
      const ack = await r.nextPacket() as mqttPacket.IConnackPacket;
      shapes.push({ saltBytes: sf.salt.length, iterations: sf.iterations, nonceExtends: sf.nonce.startsWith(scram.clientNonce), code: ack.reasonCode, reason: ack.properties?.reasonString });
      await r.closed;
    }
    assert.deepEqual(shapes[1], shapes[0]);
    assert.deepEqual(shapes[0], { saltBytes: 24, iterations: 4096, nonceExtends: true, code: 0x87, reason: 'authentication refused' });
  });

  it("an unknown name's salt is not a function of the name alone: another broker (another server secret) gives another", async () => {
    const salt = async (p: number) => {
      const { r, reply } = await rawStart(p, 'SCRAM-SHA-512', new ScramClient('SCRAM-SHA-512', 'mallory', 'x').first());
      r.close();
      return parseServerFirst((reply as mqttPacket.IAuthPacket).properties!.authenticationData!).salt;
    };
    const other = await startBroker({ protocols: ['mqtt'], userStore: new MemoryUserStore(), auth: { allowAnonymous: false } } as never);
    try {
      const here = await salt(port);
      assert.deepEqual(await salt(port), here, 'stable on one broker');
      assert.notDeepEqual(await salt(other.ports.mqtt!), here);
    } finally {
      await other.close();
    }
  });

  it('re-authenticates after CONNACK with AUTH 0x19, answered by AUTH 0x00 with the server signature', async () => {
    const first = new ScramClient('SCRAM-SHA-256', 'alice', 'wonderland');
    const { r, reply } = await rawStart(port, 'SCRAM-SHA-256', first.first());
    const m = 'SCRAM-SHA-256';
    r.send({ cmd: 'auth', reasonCode: CONTINUE, properties: { authenticationMethod: m, authenticationData: first.final((reply as mqttPacket.IAuthPacket).properties!.authenticationData!) } } as mqttPacket.IAuthPacket);
    const ack = await r.nextPacket() as mqttPacket.IConnackPacket;
    assert.equal(ack.reasonCode, 0);
    const again = new ScramClient('SCRAM-SHA-256', 'alice', 'wonderland');
    r.send({ cmd: 'auth', reasonCode: 0x19, properties: { authenticationMethod: m, authenticationData: again.first() } } as mqttPacket.IAuthPacket);
    const challenge = await r.nextPacket() as mqttPacket.IAuthPacket;
    assert.equal(challenge.reasonCode, CONTINUE);
    r.send({ cmd: 'auth', reasonCode: CONTINUE, properties: { authenticationMethod: m, authenticationData: again.final(challenge.properties!.authenticationData!) } } as mqttPacket.IAuthPacket);
    const done = await r.nextPacket() as mqttPacket.IAuthPacket;
    assert.equal(done.cmd, 'auth');
    assert.equal(done.reasonCode, 0);
    assert.ok(again.verify(done.properties?.authenticationData));
    // A wrong password on re-authentication ends the connection with DISCONNECT 0x87.
    const wrong = new ScramClient('SCRAM-SHA-256', 'alice', 'nope');
    r.send({ cmd: 'auth', reasonCode: 0x19, properties: { authenticationMethod: m, authenticationData: wrong.first() } } as mqttPacket.IAuthPacket);
    const c2 = await r.nextPacket() as mqttPacket.IAuthPacket;
    r.send({ cmd: 'auth', reasonCode: CONTINUE, properties: { authenticationMethod: m, authenticationData: wrong.final(c2.properties!.authenticationData!) } } as mqttPacket.IAuthPacket);
    const bye = await r.nextPacket() as mqttPacket.IDisconnectPacket;
    assert.deepEqual([bye.cmd, bye.reasonCode], ['disconnect', 0x87]);
    await r.closed;
  });

  it('protocol errors during the exchange get CONNACK 0x82; an unknown method 0x8C; data without a method 0x82', async () => {
    const scram = new ScramClient('SCRAM-SHA-256', 'alice', 'wonderland');
    const a = await rawStart(port, 'SCRAM-SHA-256', scram.first());
    a.r.send({ cmd: 'publish', topic: 'x', payload: Buffer.from('early'), qos: 0, retain: false, dup: false } as mqttPacket.IPublishPacket);
    assert.equal((await a.r.nextPacket() as mqttPacket.IConnackPacket).reasonCode, 0x82);
    await a.r.closed;
    const b2 = await rawStart(port, 'SCRAM-SHA-256', new ScramClient('SCRAM-SHA-256', 'alice', 'w').first());
    b2.r.send({ cmd: 'auth', reasonCode: CONTINUE, properties: { authenticationMethod: 'SCRAM-SHA-512', authenticationData: Buffer.from('c=biws') } } as mqttPacket.IAuthPacket);
    assert.equal((await b2.r.nextPacket() as mqttPacket.IConnackPacket).reasonCode, 0x82);
    await b2.r.closed;
    const c = await rawStart(port, 'PLAIN', Buffer.from('\0alice\0wonderland'));
    assert.equal((c.reply as mqttPacket.IConnackPacket).reasonCode, 0x8c);
    await c.r.closed;
    const d = await raw(port, 5);
    d.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 0, clientId: uid(), properties: { authenticationData: Buffer.from('x') } } as mqttPacket.IConnectPacket);
    assert.equal((await d.nextPacket() as mqttPacket.IConnackPacket).reasonCode, 0x82);
    await d.closed;
  });

  it('a malformed SCRAM message is refused with 0x87, not a crash', async () => {
    const { r, reply } = await rawStart(port, 'SCRAM-SHA-1', Buffer.from('garbage without attributes'));
    assert.equal((reply as mqttPacket.IConnackPacket).reasonCode, 0x87);
    await r.closed;
  });
});
