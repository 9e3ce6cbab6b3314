/**
 * Packets read are handled even when the client goes away: a client that writes CONNECT, 25 QoS 1
 * PUBLISHes and DISCONNECT in one go and then half-closes (FIN), or closes at once, has every
 * message delivered; without DISCONNECT its PUBACKs still come back before the broker's FIN, and
 * its will is published only after them. Raw sockets, with a store whose writes take a few
 * milliseconds and persistent sessions (CONNECT stores the session record), so the PUBLISHes are
 * still waiting behind CONNECT when the FIN or close arrives.
 */
import assert from 'node:assert/strict';
import { connect as netConnect, type Socket } from 'node:net';
import mqttPacket from 'mqtt-packet';
import { WebSocket } from 'ws';
import { MemoryStore } from '../../core/storage/memory-store.js';
import type { JournalEntry } from '../../core/store.js';
import { eventually, TEST_HOST } from '../support/index.js';
import { connectInbox, endAll, startMqtt, type MqttTestBroker } from './helpers.js';

class SlowStore extends MemoryStore {
  override journal(entries: JournalEntry[]): Promise<void> {
    return new Promise((resolve, reject) => setTimeout(() => super.journal(entries).then(resolve, reject), 5));
  }
}

const gen = (p: unknown) => mqttPacket.generate(p as mqttPacket.Packet, { protocolVersion: 4 });

function burst(clientId: string, topic: string, n: number, opts: { disconnect: boolean; will?: string }): Buffer {
  const parts = [gen({
    // A persistent session: CONNECT writes its record, so the PUBLISHes wait behind it.
    cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: false, clientId, keepalive: 0,
    will: opts.will ? { topic: opts.will, payload: Buffer.from('gone'), qos: 1, retain: false } : undefined,
  })];
  for (let i = 1; i <= n; i++) parts.push(gen({ cmd: 'publish', topic, payload: Buffer.from(`m${i}`), qos: 1, messageId: i, retain: false, dup: false }));
  if (opts.disconnect) parts.push(gen({ cmd: 'disconnect' }));
  return Buffer.concat(parts);
}

/** A raw client that keeps reading after its FIN and collects what the broker sends. */
function rawClient(port: number): Promise<{ socket: Socket; packets: mqttPacket.Packet[]; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const packets: mqttPacket.Packet[] = [];
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on('packet', (p) => packets.push(p));
    const socket = netConnect({ host: TEST_HOST, port, allowHalfOpen: true }, () => resolve({ socket, packets, closed }));
    socket.on('data', (d) => parser.parse(d));
    socket.on('error', () => undefined);
    socket.once('error', reject);
    const closed = new Promise<void>((r) => socket.on('close', () => r()));
  });
}

let seq = 0;
const uniq = (p: string) => `${p}${process.pid}x${++seq}`;
const expected = (n: number) => Array.from({ length: n }, (_, i) => `m${i + 1}`);

describe('mqtt: packets read are handled after the client goes away', () => {
  let m: MqttTestBroker;
  before(async () => { m = await startMqtt({ store: new SlowStore() }); });
  afterEach(() => endAll());
  after(async () => { await m?.close(); });

  it('CONNECT + 25 QoS 1 PUBLISH + DISCONNECT, then FIN: all 25 delivered in order, no will', async () => {
    const topic = uniq('fin/a');
    const { client, inbox } = await connectInbox(m.url);
    await client.subscribeAsync([topic, `${topic}/will`], { qos: 1 });
    const c = await rawClient(m.port);
    c.socket.end(burst(uniq('p'), topic, 25, { disconnect: true, will: `${topic}/will` }));
    await c.closed;
    const got = await inbox.waitCount(25);
    assert.deepEqual(got.map((r) => r.payload.toString()), expected(25));
    assert.equal(await inbox.quiet(200), true, 'no will after a DISCONNECT');
  });

  it('CONNECT + 25 QoS 1 PUBLISH, then FIN without DISCONNECT: 25 PUBACKs before the broker\'s FIN, then the will', async () => {
    const topic = uniq('fin/b');
    const { client, inbox } = await connectInbox(m.url);
    await client.subscribeAsync([topic, `${topic}/will`], { qos: 1 });
    const c = await rawClient(m.port);
    c.socket.end(burst(uniq('p'), topic, 25, { disconnect: false, will: `${topic}/will` }));
    await c.closed;
    assert.equal(c.packets[0].cmd, 'connack');
    const acks = c.packets.filter((p) => p.cmd === 'puback').map((p) => (p as mqttPacket.IPubackPacket).messageId);
    assert.deepEqual(acks, Array.from({ length: 25 }, (_, i) => i + 1));
    const got = await inbox.waitCount(26);
    assert.deepEqual(got.slice(0, 25).map((r) => r.payload.toString()), expected(25));
    assert.equal(got[25].topic, `${topic}/will`);
  });

  it('CONNECT + 25 QoS 1 PUBLISH, then a close at once: all 25 delivered', async () => {
    const topic = uniq('fin/c');
    const { client, inbox } = await connectInbox(m.url);
    await client.subscribeAsync(topic, { qos: 1 });
    const c = await rawClient(m.port);
    c.socket.write(burst(uniq('p'), topic, 25, { disconnect: false }), () => c.socket.destroy());
    const got = await inbox.waitCount(25);
    assert.deepEqual(got.map((r) => r.payload.toString()), expected(25));
    await eventually(() => m.adapter().connectionCount === 1, { what: 'the closed connection released' });
  });
  it('over WebSocket: CONNECT + 25 QoS 1 PUBLISH, then the WebSocket closed: all 25 delivered', async () => {
    const topic = uniq('fin/ws');
    const { client, inbox } = await connectInbox(m.url);
    await client.subscribeAsync(topic, { qos: 1 });
    const ws = new WebSocket(m.wsUrl, 'mqtt');
    await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
    ws.send(burst(uniq('p'), topic, 25, { disconnect: false }));
    ws.close();
    const got = await inbox.waitCount(25);
    assert.deepEqual(got.map((r) => r.payload.toString()), expected(25));
  });
});
