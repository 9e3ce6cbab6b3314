/**
 * Three Junction nodes on a three-server NATS JetStream cluster (Debian's nats-server), with real
 * clients: kafka-python as the seeds use it (a three-node bootstrap list, replication factor 3),
 * kafkajs, kcat, MQTT.js; leader failover when a node stops or is killed with SIGKILL, and when a
 * nats-server is killed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { startBroker, type RunningBroker } from '../support/broker.js';
import { DEBIAN_PYTHON, requireDebianClient } from '../support/debian.js';
import { startJunctionProcess, type JunctionProcess } from '../support/junction-process.js';
import { requireNatsServer, startNatsCluster, type TestNatsCluster } from '../support/nats-cluster.js';
import { kafkajs, run } from '../kafka/support.js';
import { eventually } from '../support/index.js';

const PY = fileURLToPath(new URL('../../../test/', import.meta.url));
const FAST = { heartbeatMs: 250, nodeTimeoutMs: 1500 };

async function python(script: string, args: Array<string | number>): Promise<Record<string, unknown>> {
  const r = await run(DEBIAN_PYTHON, [PY + script, ...args.map(String)], undefined, 90000);
  assert.equal(r.code, 0, `${script} failed:\n${r.stderr}\n${r.stdout}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

function startNode(nats: TestNatsCluster, nodeId: number): Promise<RunningBroker> {
  return startBroker({ cluster: { servers: nats.urls, nodeId, ...FAST }, ports: { amqp: 0, stomp: 0, xmpp: 0 } });
}

describe('cluster: three nodes on NATS JetStream', function () {
  this.timeout(120000);
  before(requireNatsServer);
  let nats: TestNatsCluster;
  let nodes: RunningBroker[];
  const bootstrap = () => nodes.map((n) => `127.0.0.1:${n.ports.kafka}`).join(',');

  before(async () => {
    nats = await startNatsCluster({ servers: 3 });
    nodes = [];
    for (const id of [1, 2, 3]) nodes.push(await startNode(nats, id));
    await eventually(() => nodes.every((n) => n.broker.cluster.nodes().length === 3), { timeout: 20000, what: 'three live nodes' });
  });
  after(async () => {
    for (const n of nodes ?? []) await n.close().catch(() => undefined);
    await nats?.stop();
  });

  it('kafka-python: --replication-factor 3 with a three-node bootstrap list; describe shows leader, replicas and ISR', async function () {
    await requireDebianClient('python3-kafka', 'python3:kafka').call(this);
    const out = await python('cluster/python/replicated_topic.py', [bootstrap(), 'my-replicated-topic', 3, 3]);
    assert.deepEqual(out.brokers, [1, 2, 3]);
    const partitions = out.partitions as Array<[number, number, number[], number[]]>;
    assert.equal(partitions.length, 3);
    for (const [, leader, replicas, isr] of partitions) {
      assert.ok([1, 2, 3].includes(leader));
      assert.deepEqual(replicas, [1, 2, 3]);
      assert.deepEqual(isr, [1, 2, 3]);
    }
    // The seeds' producer and group consumer, unchanged but for the bootstrap list.
    const sent = (await python('kafka/python/seed_producer.py', [bootstrap(), 'my-replicated-topic', 30, 3])).sent as number[][];
    assert.equal(sent.length, 30);
    const got = (await python('kafka/python/seed_consumer_group.py', [bootstrap(), 'my-replicated-topic', 'seed-group', 8000])).records as unknown[][];
    assert.equal(got.length, 30);
    assert.deepEqual(new Set(got.map((r) => r[2])).size, 30);
  });

  it('refuses a replication factor above the JetStream servers, as Kafka refuses one above its brokers', async () => {
    const admin = kafkajs(bootstrap().split(',')[0]).admin();
    await admin.connect();
    try {
      await assert.rejects(admin.createTopics({ topics: [{ topic: 'too-many-copies', numPartitions: 1, replicationFactor: 4 }] }));
      assert.ok(!(await admin.listTopics()).includes('too-many-copies'));
    } finally {
      await admin.disconnect();
    }
  });

  it('kcat and kafkajs produce through any node: offsets are dense per partition and every record is read once', async function () {
    await requireDebianClient('kcat', 'kcat').call(this);
    const client = kafkajs(bootstrap().split(',')[2], { brokers: bootstrap().split(',') });
    const admin = client.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'dense', numPartitions: 2, replicationFactor: 3 }], waitForLeaders: true });
    await admin.disconnect();
    const input = Array.from({ length: 50 }, (_, i) => `k${i}:v${i}`).join('\n') + '\n';
    const r = await run('kcat', ['-b', bootstrap(), '-P', '-t', 'dense', '-K', ':', '-X', 'acks=all'], input);
    assert.equal(r.code, 0, r.stderr);
    const producer = client.producer({ idempotent: true });
    await producer.connect();
    for (let i = 50; i < 100; i++) await producer.send({ topic: 'dense', acks: -1, messages: [{ key: `k${i}`, value: `v${i}` }] });
    await producer.disconnect();
    const consumer = client.consumer({ groupId: 'dense-readers' });
    await consumer.connect();
    await consumer.subscribe({ topic: 'dense', fromBeginning: true });
    const seen = new Map<number, number[]>();
    const values = new Set<string>();
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        values.add(message.value!.toString());
        const list = seen.get(partition) ?? [];
        list.push(Number(message.offset));
        seen.set(partition, list);
      },
    });
    await eventually(() => values.size === 100, { timeout: 30000, what: '100 records' });
    await consumer.disconnect();
    for (const offsets of seen.values()) assert.deepEqual(offsets, offsets.map((_, i) => i), 'dense offsets from 0');
  });

  it('a consumer group with members on different nodes shares the partitions under one coordinator', async () => {
    const admin = kafkajs(bootstrap().split(',')[0]).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'shared-work', numPartitions: 4, replicationFactor: 2 }], waitForLeaders: true });
    await admin.disconnect();
    const members = [0, 1].map((i) => kafkajs(bootstrap().split(',')[i], { brokers: [bootstrap().split(',')[i]] }).consumer({ groupId: 'cross-node' }));
    const got: Array<{ member: number; value: string }> = [];
    for (const [i, m] of members.entries()) {
      await m.connect();
      await m.subscribe({ topic: 'shared-work', fromBeginning: true });
      await m.run({ eachMessage: async ({ message }) => { got.push({ member: i, value: message.value!.toString() }); } });
    }
    const producer = kafkajs(bootstrap().split(',')[2], { brokers: bootstrap().split(',') }).producer();
    await producer.connect();
    await eventually(async () => {
      await producer.send({ topic: 'shared-work', messages: [{ value: `probe-${Date.now()}` }] });
      return new Set(got.map((g) => g.member)).size === 2;
    }, { timeout: 60000, what: 'both members to receive records' });
    await producer.disconnect();
    const values = got.map((g) => g.value);
    assert.equal(new Set(values).size, values.length, 'no record delivered twice');
    for (const m of members) await m.disconnect();
  });

  it('MQTT: a publish on one node reaches subscribers on the others, QoS 0 and 1, and retained messages are cluster-wide', async () => {
    const sub = await mqtt.connectAsync(`mqtt://127.0.0.1:${nodes[0].ports.mqtt}`, { clientId: 'cl-sub' });
    const got: string[] = [];
    sub.on('message', (t, p) => got.push(`${t}=${p.toString()}`));
    await sub.subscribeAsync('plant/#', { qos: 1 });
    const pub = await mqtt.connectAsync(`mqtt://127.0.0.1:${nodes[1].ports.mqtt}`, { clientId: 'cl-pub' });
    await pub.publishAsync('plant/a', 'one', { qos: 1 });
    await pub.publishAsync('plant/b', 'zero', { qos: 0 });
    await pub.publishAsync('plant/status', 'up', { qos: 1, retain: true });
    await eventually(() => got.length === 3, { timeout: 10000, what: 'three messages on node 1' });
    assert.deepEqual(got.sort(), ['plant/a=one', 'plant/b=zero', 'plant/status=up']);
    const late = await mqtt.connectAsync(`mqtt://127.0.0.1:${nodes[2].ports.mqtt}`, { clientId: 'cl-late' });
    const retained: string[] = [];
    late.on('message', (t, p, packet) => { if (packet.retain) retained.push(`${t}=${p.toString()}`); });
    await eventually(async () => {
      await late.subscribeAsync('plant/+', { qos: 1 });
      return retained.includes('plant/status=up');
    }, { timeout: 10000, what: 'the retained message on node 3' });
    for (const c of [sub, pub, late]) await c.endAsync();
  });

  it('MQTT messages reach a Kafka topic whose partitions are led by other nodes', async () => {
    const admin = kafkajs(bootstrap().split(',')[0]).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'meters', numPartitions: 3, replicationFactor: 3 }], waitForLeaders: true });
    await admin.disconnect();
    const pub = await mqtt.connectAsync(`mqtt://127.0.0.1:${nodes[2].ports.mqtt}`, { clientId: 'meter-pub' });
    for (let i = 0; i < 12; i++) await pub.publishAsync('meters', `reading-${i}`, { qos: 1 });
    await pub.endAsync();
    const consumer = kafkajs(bootstrap().split(',')[1], { brokers: bootstrap().split(',') }).consumer({ groupId: 'meters-readers' });
    const values: string[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic: 'meters', fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => { values.push(message.value!.toString()); } });
    await eventually(() => values.length === 12, { timeout: 30000, what: '12 readings' });
    await consumer.disconnect();
    assert.deepEqual(values.sort(), Array.from({ length: 12 }, (_, i) => `reading-${i}`).sort());
  });

  it('a user registered on one node (no users file: broker metadata) logs in on the others', async () => {
    await nodes[0].auth.register!('roaming-user', 'secret-1');
    await eventually(async () => (await nodes[2].auth.authenticate('mqtt', 'roaming-user', 'secret-1'))?.user === 'roaming-user', { timeout: 10000, what: 'login on node 3' });
    assert.equal(await nodes[1].auth.authenticate('mqtt', 'roaming-user', 'wrong'), null);
  });

  it('/api/cluster lists the nodes with their endpoints; /metrics carries the node id', async () => {
    const res = await fetch(`http://127.0.0.1:${nodes[0].ports.http}/api/cluster`);
    assert.equal(res.status, 200);
    const body = await res.json() as { nodeId: number; nodes: Array<{ id: number; endpoints: Record<string, { port: number }> }> };
    assert.equal(body.nodeId, 1);
    assert.deepEqual(body.nodes.map((n) => n.id), [1, 2, 3]);
    assert.equal(body.nodes[1].endpoints.kafka.port, nodes[1].ports.kafka);
    const metrics = await (await fetch(`http://127.0.0.1:${nodes[1].ports.http}/metrics`)).text();
    assert.match(metrics, /^junction_info\{[^}]*node="2"[^}]*\} 1$/m);
    assert.match(metrics, /^junction_cluster_nodes 3$/m);
  });

  it('a stopped node\'s partitions get new leaders; nothing acknowledged is lost and offsets continue', async () => {
    const client = kafkajs(bootstrap().split(',')[0], { brokers: bootstrap().split(','), retry: { retries: 20, initialRetryTime: 200, maxRetryTime: 2000 } });
    const admin = client.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'failover', numPartitions: 3, replicationFactor: 3 }], waitForLeaders: true });
    const producer = client.producer({ idempotent: true });
    await producer.connect();
    for (let i = 0; i < 30; i++) await producer.send({ topic: 'failover', acks: -1, messages: [{ key: `k${i % 3}`, value: `before-${i}` }] });
    const victim = nodes.pop()!;
    await victim.close();
    await eventually(() => nodes.every((n) => n.broker.cluster.nodes().length === 2), { timeout: 10000, what: 'two live nodes' });
    for (let i = 0; i < 30; i++) await producer.send({ topic: 'failover', acks: -1, messages: [{ key: `k${i % 3}`, value: `after-${i}` }] });
    await producer.disconnect();
    const md = await admin.fetchTopicMetadata({ topics: ['failover'] });
    for (const p of md.topics[0].partitions) assert.ok([1, 2].includes(p.leader), `partition ${p.partitionId} led by a live node`);
    await admin.disconnect();
    const consumer = client.consumer({ groupId: 'failover-readers' });
    const values: string[] = [];
    const offsets = new Map<number, number[]>();
    await consumer.connect();
    await consumer.subscribe({ topic: 'failover', fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        values.push(message.value!.toString());
        offsets.set(partition, [...(offsets.get(partition) ?? []), Number(message.offset)]);
      },
    });
    await eventually(() => values.length >= 60, { timeout: 30000, what: '60 records' });
    await consumer.disconnect();
    assert.equal(new Set(values).size, 60, 'each record once');
    for (const list of offsets.values()) assert.deepEqual(list, list.map((_, i) => i));
    nodes.push(await startNode(nats, 3));
    await eventually(() => nodes.every((n) => n.broker.cluster.nodes().length === 3), { timeout: 20000, what: 'node 3 back' });
  });
});

describe('cluster: kill -9 of a Junction node and of a nats-server', function () {
  this.timeout(180000);
  before(requireNatsServer);
  let nats: TestNatsCluster;
  let procs: JunctionProcess[] = [];

  before(async () => {
    nats = await startNatsCluster({ servers: 3 });
    for (const id of [1, 2, 3]) {
      procs.push(await startJunctionProcess({ cluster: nats.urls, nodeId: id, args: ['--set', `cluster.heartbeatMs=${FAST.heartbeatMs}`, '--set', 'cluster.nodeTimeoutMs=3000'] }));
    }
  });
  after(async () => {
    for (const p of procs) await p.stop().catch(() => undefined);
    procs = [];
    await nats?.stop();
  });

  it('loses no acknowledged record when a node and then a nats-server are killed mid-stream', async () => {
    const brokers = procs.map((p) => `127.0.0.1:${p.ports.kafka}`);
    const client = kafkajs(brokers[0], { brokers, retry: { retries: 30, initialRetryTime: 200, maxRetryTime: 2000 } });
    const admin = client.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'chaos', numPartitions: 3, replicationFactor: 3 }], waitForLeaders: true });
    await admin.disconnect();
    const producer = client.producer({ idempotent: true, retry: { retries: 30, initialRetryTime: 200, maxRetryTime: 2000 } });
    await producer.connect();
    const acked: string[] = [];
    // As an application does: a send refused during a leader election is sent again (idempotent
    // producer); only sends the cluster acknowledged count, and every one of them must be read back.
    const send = async (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        await eventually(async () => {
          await producer.send({ topic: 'chaos', acks: -1, messages: [{ key: `k${i % 7}`, value: `r${i}` }] });
          return true;
        }, { timeout: 60000, what: `record ${i} acknowledged` });
        acked.push(`r${i}`);
      }
    };
    await send(0, 40);
    await procs[1].kill('SIGKILL');
    await send(40, 80);
    await nats.kill(2);
    await send(80, 120);
    await producer.disconnect();
    const consumer = kafkajs(brokers[0], { brokers: [brokers[0], brokers[2]] }).consumer({ groupId: 'chaos-readers' });
    const seen = new Map<string, string>();
    await consumer.connect();
    await consumer.subscribe({ topic: 'chaos', fromBeginning: true });
    await consumer.run({ eachMessage: async ({ partition, message }) => { seen.set(message.value!.toString(), `${partition}@${message.offset}`); } });
    await eventually(() => acked.every((v) => seen.has(v)), { timeout: 60000, what: 'every acknowledged record' }).catch((err: Error) => {
      const missing = acked.filter((v) => !seen.has(v));
      const tails = procs.map((p, i) => `--- node ${i + 1}\n${p.output().split('\n').slice(-25).join('\n')}`).join('\n');
      throw new Error(`${err.message}: ${missing.length} missing (${missing.slice(0, 20).join(' ')}); read ${[...seen.entries()].map(([v, at]) => `${v}=${at}`).join(' ')}\n${tails}`);
    });
    await consumer.disconnect();
    assert.equal(acked.length, 120);
    await nats.restart(2);
    await procs[1].restart();
  });

  it('a node that cannot reach NATS exits non-zero with one line', () => {
    const bin = fileURLToPath(new URL('../../../bin/junction.js', import.meta.url));
    const r = spawnSync(process.execPath, [bin, 'start', '--in-memory', '--cluster', 'nats://127.0.0.1:1', '--node-id', '9',
      '--http-port', '0', '--mqtt-port', '0', '--kafka-port', '0', '--amqp-port', '0', '--stomp-port', '0', '--xmpp-port', '0'], { encoding: 'utf8', timeout: 30000 });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /cannot reach the NATS cluster/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  });
});
