/**
 * MQTT persistent sessions in a cluster (docs/cluster.md "MQTT sessions"): a session follows its
 * client to another node, the same client id on a second node takes the session over, and a
 * client whose node was killed finds its session, with what was published meanwhile, on another.
 * Three nats-servers and three Junction node processes; MQTT.js clients.
 */
import assert from 'node:assert/strict';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { startJunctionProcess, type JunctionProcess } from '../support/junction-process.js';
import { requireNatsServer, startNatsCluster, type TestNatsCluster } from '../support/nats-cluster.js';
import { eventually } from '../support/index.js';
import { rawConnected } from '../mqtt/helpers.js';

const CLUSTER_ARGS = ['--set', 'cluster.heartbeatMs=250', '--set', 'cluster.nodeTimeoutMs=5000'];

async function connect(node: JunctionProcess, options: IClientOptions): Promise<{ client: MqttClient; sessionPresent: boolean }> {
  const client = mqtt.connect(`mqtt://127.0.0.1:${node.ports.mqtt}`, { reconnectPeriod: 0, connectTimeout: 10000, ...options });
  const sessionPresent = await new Promise<boolean>((resolve, reject) => {
    client.once('connect', (ack) => resolve(ack.sessionPresent));
    client.once('error', reject);
  });
  return { client, sessionPresent };
}

async function publishAll(node: JunctionProcess, topic: string, bodies: string[]): Promise<void> {
  const { client } = await connect(node, { clientId: `pub-${Date.now()}-${Math.random()}`, clean: true });
  try {
    for (const body of bodies) await client.publishAsync(topic, body, { qos: 1 });
  } finally {
    await client.endAsync();
  }
}

function received(client: MqttClient): string[] {
  const got: string[] = [];
  client.on('message', (_t, payload) => got.push(payload.toString()));
  return got;
}

describe('cluster: MQTT persistent sessions', function () {
  this.timeout(180000);
  before(requireNatsServer);
  let nats: TestNatsCluster;
  let procs: JunctionProcess[] = [];
  const open: MqttClient[] = [];

  before(async () => {
    nats = await startNatsCluster({ servers: 3 });
    for (const id of [1, 2, 3]) procs.push(await startJunctionProcess({ cluster: nats.urls, nodeId: id, args: CLUSTER_ARGS }));
  });
  afterEach(async () => {
    for (const c of open.splice(0)) await c.endAsync(true).catch(() => undefined);
  });
  after(async () => {
    for (const p of procs) await p.stop().catch(() => undefined);
    procs = [];
    await nats?.stop();
  });

  it('a session made on one node resumes on another with what was published meanwhile (MQTT 3.1.1, clean session false)', async () => {
    const first = await connect(procs[0], { clientId: 'roamer', clean: false, protocolVersion: 4 });
    await first.client.subscribeAsync('alerts/#', { qos: 1 });
    await first.client.endAsync();
    const bodies = Array.from({ length: 10 }, (_, i) => `alert-${i}`);
    await publishAll(procs[2], 'alerts/door', bodies);
    const again = await connect(procs[1], { clientId: 'roamer', clean: false, protocolVersion: 4 });
    open.push(again.client);
    assert.equal(again.sessionPresent, true, 'the session is found on node 2');
    const got = received(again.client);
    await eventually(() => got.length >= bodies.length, { timeout: 30000, what: `10 messages on node 2 (have ${got.length})` });
    assert.deepEqual(got, bodies);
  });

  it('the same client id on a second node takes the session over: the first connection hears 0x8E (MQTT 5)', async () => {
    const first = await connect(procs[0], { clientId: 'twin', clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 300 } });
    open.push(first.client);
    const reason = new Promise<number | undefined>((resolve) => first.client.once('disconnect', (p) => resolve(p.reasonCode)));
    const second = await connect(procs[1], { clientId: 'twin', clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 300 } });
    open.push(second.client);
    assert.equal(second.sessionPresent, true);
    assert.equal(await reason, 0x8e);
    // The session is node 2's now: subscriptions made there receive.
    await second.client.subscribeAsync('twin/inbox', { qos: 1 });
    const got = received(second.client);
    await publishAll(procs[2], 'twin/inbox', ['hello']);
    await eventually(() => got.length >= 1, { timeout: 20000, what: 'a message on the new connection' });
    assert.deepEqual(got, ['hello']);
  });

  it('a QoS 2 PUBLISH resent on another node after its PUBREC was lost is delivered once (MQTT 3.1.1, persistent and clean subscribers)', async () => {
    const kept = await connect(procs[2], { clientId: 'qos2-kept', clean: false, protocolVersion: 4 });
    const passing = await connect(procs[1], { clientId: 'qos2-passing', clean: true, protocolVersion: 4 });
    open.push(kept.client, passing.client);
    await kept.client.subscribeAsync('meter/+', { qos: 2 });
    await passing.client.subscribeAsync('meter/+', { qos: 2 });
    const gotKept = received(kept.client);
    const gotPassing = received(passing.client);
    const publish = { cmd: 'publish', topic: 'meter/7', payload: Buffer.from('reading-42'), qos: 2, messageId: 7, retain: false, dup: false } as const;
    // Stored and PUBREC sent, but the client never reads it: its node "died" first.
    const first = await rawConnected(procs[0].ports.mqtt, 4, { clientId: 'qos2-resender', clean: false });
    first.send(publish);
    assert.equal((await first.nextPacket(10000)).cmd, 'pubrec');
    first.close();
    // The client resends on another node, as MQTT asks after a reconnect, and completes the exchange.
    const again = await rawConnected(procs[1].ports.mqtt, 4, { clientId: 'qos2-resender', clean: false });
    again.send({ ...publish, dup: true });
    assert.equal((await again.nextPacket(10000)).cmd, 'pubrec');
    again.send({ cmd: 'pubrel', messageId: 7 });
    assert.equal((await again.nextPacket(10000)).cmd, 'pubcomp');
    again.send({ ...publish, payload: Buffer.from('marker'), messageId: 8 });
    assert.equal((await again.nextPacket(10000)).cmd, 'pubrec');
    again.send({ cmd: 'pubrel', messageId: 8 });
    assert.equal((await again.nextPacket(10000)).cmd, 'pubcomp');
    again.close();
    await eventually(() => gotKept.includes('marker') && gotPassing.includes('marker'), { timeout: 30000, what: () => `the marker on both subscribers (${gotKept} / ${gotPassing})` });
    assert.deepEqual(gotKept, ['reading-42', 'marker']);
    assert.deepEqual(gotPassing, ['reading-42', 'marker']);
  });

  it('a client whose node was killed (kill -9) finds its session and every QoS 1 message on another node', async () => {
    const first = await connect(procs[0], { clientId: 'survivor', clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 600 } });
    await first.client.subscribeAsync('plant/+/temp', { qos: 1 });
    first.client.stream.destroy();
    await procs[0].kill('SIGKILL');
    const bodies = Array.from({ length: 20 }, (_, i) => `t-${i}`);
    await publishAll(procs[2], 'plant/7/temp', bodies);
    const again = await eventually(async () => {
      const c = await connect(procs[1], { clientId: 'survivor', clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 600 } });
      open.push(c.client);
      return c;
    }, { timeout: 30000, what: 'reconnect on node 2' });
    assert.equal(again.sessionPresent, true);
    const got = received(again.client);
    await eventually(() => got.length >= bodies.length, { timeout: 60000, what: `20 messages after the node died (have ${got.length})` });
    assert.deepEqual([...new Set(got)].sort(), [...bodies].sort());
    await procs[0].restart();
  });

  it('the will of a client whose node was killed (kill -9) is published by another node; a discarded will is not', async () => {
    const watcher = await connect(procs[1], { clientId: 'will-watcher', clean: true });
    open.push(watcher.client);
    await watcher.client.subscribeAsync('status/+', { qos: 1 });
    const statuses: string[] = [];
    watcher.client.on('message', (topic, payload) => statuses.push(`${topic}=${payload.toString()}`));
    const device = await connect(procs[0], { clientId: 'device-7', clean: true, will: { topic: 'status/device-7', payload: Buffer.from('offline'), qos: 1, retain: false } });
    const polite = await connect(procs[0], { clientId: 'device-8', clean: true, will: { topic: 'status/device-8', payload: Buffer.from('offline'), qos: 1, retain: false } });
    await polite.client.endAsync();
    await eventually(async () => {
      const list = await (await fetch(`http://127.0.0.1:${procs[0].ports.http}/api/connections?protocol=mqtt`)).json() as Array<{ clientId: string }>;
      return !list.some((c) => c.clientId === 'device-8');
    }, { timeout: 10000, what: 'device-8 gone from node 1' });
    device.client.stream.destroy();
    await procs[0].kill('SIGKILL');
    await eventually(() => statuses.length >= 1, { timeout: 60000, what: 'the will of device-7 on node 2' });
    // The discarded will would have been adopted in the same scan.
    await publishAll(procs[2], 'status/marker', ['after']);
    await eventually(() => statuses.includes('status/marker=after'), { timeout: 30000, what: 'the marker' });
    assert.deepEqual(statuses, ['status/device-7=offline', 'status/marker=after']);
    await procs[0].restart();
  });
});
