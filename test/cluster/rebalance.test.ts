/**
 * Preferred-leader election (docs/cluster.md "Leaders and fencing"): a node that joins takes back,
 * after cluster.rebalanceDelayMs, the partitions rendezvous hashing prefers it for, and the topic
 * keeps every record through the move.
 */
import assert from 'node:assert/strict';
import { startJunctionProcess, type JunctionProcess } from '../support/junction-process.js';
import { requireNatsServer, startNatsCluster, type TestNatsCluster } from '../support/nats-cluster.js';
import { kafkajs } from '../kafka/support.js';
import { eventually } from '../support/index.js';

const ARGS = ['--set', 'cluster.heartbeatMs=250', '--set', 'cluster.nodeTimeoutMs=2000', '--set', 'cluster.rebalanceDelayMs=1500'];

async function leaders(node: JunctionProcess): Promise<Map<number, number>> {
  const view = await (await fetch(`http://127.0.0.1:${node.ports.http}/api/cluster`)).json() as { nodes: Array<{ id: number; leaderOf: number }> };
  return new Map(view.nodes.map((n) => [n.id, n.leaderOf]));
}

describe('cluster: a node that joins leads its preferred partitions again', function () {
  this.timeout(180000);
  before(requireNatsServer);
  let nats: TestNatsCluster;
  const procs: JunctionProcess[] = [];

  before(async () => {
    nats = await startNatsCluster({ servers: 3 });
    for (const id of [1, 2]) procs.push(await startJunctionProcess({ cluster: nats.urls, nodeId: id, args: ARGS }));
  });
  after(async () => {
    for (const p of procs) await p.stop().catch(() => undefined);
    await nats?.stop();
  });

  it('moves leaders to the new node without losing a record; offsets continue', async () => {
    const brokers = () => procs.map((p) => `127.0.0.1:${p.ports.kafka}`);
    const client = kafkajs(brokers()[0], { brokers: brokers(), retry: { retries: 30, initialRetryTime: 200, maxRetryTime: 2000 } });
    const admin = client.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'spread', numPartitions: 8, replicationFactor: 2 }], waitForLeaders: true });
    await admin.disconnect();
    const producer = client.producer({ idempotent: true });
    await producer.connect();
    for (let i = 0; i < 40; i++) await producer.send({ topic: 'spread', acks: -1, messages: [{ key: `k${i}`, value: `before-${i}` }] });
    await producer.disconnect();

    procs.push(await startJunctionProcess({ cluster: nats.urls, nodeId: 3, args: ARGS }));
    await eventually(async () => ((await leaders(procs[0])).get(3) ?? 0) > 0, { timeout: 30000, what: 'node 3 leads some partitions' });
    const counts = await leaders(procs[2]);
    assert.equal([...counts.values()].reduce((a, b) => a + b, 0), 8, `every partition has one live leader: ${JSON.stringify([...counts])}`);

    const client3 = kafkajs(brokers()[2], { brokers: brokers(), retry: { retries: 30, initialRetryTime: 200, maxRetryTime: 2000 } });
    const p3 = client3.producer({ idempotent: true, retry: { retries: 30, initialRetryTime: 200, maxRetryTime: 2000 } });
    await p3.connect();
    for (let i = 0; i < 40; i++) await p3.send({ topic: 'spread', acks: -1, messages: [{ key: `k${i}`, value: `after-${i}` }] });
    await p3.disconnect();

    const consumer = client3.consumer({ groupId: 'spread-readers' });
    const offsets = new Map<number, number[]>();
    const values = new Set<string>();
    await consumer.connect();
    await consumer.subscribe({ topic: 'spread', fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        offsets.set(partition, [...(offsets.get(partition) ?? []), Number(message.offset)]);
        values.add(message.value!.toString());
      },
    });
    await eventually(() => values.size >= 80, { timeout: 60000, what: `all 80 records (have ${values.size})` });
    await consumer.disconnect();
    for (const [partition, list] of offsets) assert.deepEqual(list, list.map((_, i) => i), `partition ${partition}: dense offsets from 0`);
  });
});
