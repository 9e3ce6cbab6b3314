/**
 * Queues shared by the nodes of a cluster (docs/cluster.md "Queues"): consumers of one queue on
 * different nodes compete, a sender anywhere reaches them, and a queue survives kill -9 of the node
 * that owned it. Three nats-servers and three Junction node processes; STOMP (stompjs over
 * WebSocket) and AMQP 1.0 (rhea) clients.
 */
import assert from 'node:assert/strict';
import type { Client, IMessage } from '@stomp/stompjs';
import rhea from 'rhea';
import { startJunctionProcess, type JunctionProcess } from '../support/junction-process.js';
import { requireNatsServer, startNatsCluster, type TestNatsCluster } from '../support/nats-cluster.js';
import { stompjs } from '../stomp/helpers.js';
import { eventually } from '../support/index.js';

// A node timeout of 5 s: a starved CI machine must not declare a busy node dead mid-test.
const CLUSTER_ARGS = ['--set', 'cluster.heartbeatMs=250', '--set', 'cluster.nodeTimeoutMs=5000'];

function stompOn(node: JunctionProcess): Promise<Client> {
  return stompjs(`ws://127.0.0.1:${node.ports.http}/stomp`);
}

/** Sends persistent messages one by one, each acknowledged by a RECEIPT (stored on a quorum). */
async function sendWithReceipts(client: Client, destination: string, bodies: string[], headers: Record<string, string> = {}): Promise<void> {
  for (const body of bodies) {
    const receipt = `r-${body}`;
    const got = new Promise<void>((resolve) => client.watchForReceipt(receipt, () => resolve()));
    client.publish({ destination, body, headers: { ...headers, persistent: 'true', receipt } });
    await got;
  }
}

function collect(client: Client, destination: string): string[] {
  const got: string[] = [];
  client.subscribe(destination, (m: IMessage) => {
    got.push(m.body);
    m.ack();
  }, { ack: 'client-individual', 'prefetch-count': '10' });
  return got;
}

describe('cluster: shared queues', function () {
  this.timeout(180000);
  before(requireNatsServer);
  let nats: TestNatsCluster;
  let procs: JunctionProcess[] = [];
  const clients: Client[] = [];

  before(async () => {
    nats = await startNatsCluster({ servers: 3 });
    for (const id of [1, 2, 3]) procs.push(await startJunctionProcess({ cluster: nats.urls, nodeId: id, args: CLUSTER_ARGS }));
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.deactivate().catch(() => undefined);
  });
  after(async () => {
    for (const p of procs) await p.stop().catch(() => undefined);
    procs = [];
    await nats?.stop();
  });

  it('STOMP consumers of one queue on two nodes compete; a sender on the third reaches them, every message once', async () => {
    const [a, b, sender] = await Promise.all(procs.map(stompOn));
    clients.push(a, b, sender);
    const gotA = collect(a, '/queue/jobs');
    const gotB = collect(b, '/queue/jobs');
    // Both consumers count on the owner (one of them standing for the other node) before sending.
    await eventually(async () => {
      let total = 0;
      for (const p of procs) {
        const res = await fetch(`http://127.0.0.1:${p.ports.http}/api/queues/jobs`);
        if (res.ok) total += ((await res.json()) as { consumers: number }).consumers;
      }
      return total >= 3;
    }, { timeout: 20000, what: 'the remote consumer attached to the owner' });
    const bodies = Array.from({ length: 60 }, (_, i) => `job-${i}`);
    await eventually(async () => {
      // The queue is declared by the first SUBSCRIBE; its definition reaches the sender's node.
      await sendWithReceipts(sender, '/queue/jobs', bodies.slice(0, 1));
      return true;
    }, { timeout: 20000, what: 'first send' });
    await sendWithReceipts(sender, '/queue/jobs', bodies.slice(1));
    await eventually(() => gotA.length + gotB.length >= bodies.length, { timeout: 30000, what: `60 deliveries (have ${gotA.length}+${gotB.length})` });
    const all = [...gotA, ...gotB].sort();
    assert.deepEqual(all, [...bodies].sort(), 'each message delivered exactly once');
    assert.ok(gotA.length > 0 && gotB.length > 0, `both consumers got messages (${gotA.length} / ${gotB.length})`);
    const view = await (await fetch(`http://127.0.0.1:${procs[1].ports.http}/api/cluster`)).json() as { nodes: Array<{ id: number; queuesOwned: number }> };
    assert.equal(view.nodes.reduce((n, x) => n + x.queuesOwned, 0), 1, 'one node owns the queue');
  });

  it('AMQP: a durable queue written on one node is consumed on another, with settlement', async () => {
    const container = rhea.create_container({ id: 'shared-queue-test' });
    const open = (p: JunctionProcess) => new Promise<rhea.Connection>((resolve, reject) => {
      const c = container.connect({ host: '127.0.0.1', port: p.ports.amqp, reconnect: false });
      c.once('connection_open', () => resolve(c));
      c.once('connection_error', () => reject(new Error('connection error')));
    });
    const [c1, c3] = await Promise.all([open(procs[0]), open(procs[2])]);
    try {
      const sender = c1.open_sender({ target: { address: 'orders', durable: 2 } });
      await new Promise((r) => sender.once('sendable', r));
      let accepted = 0;
      const refused: string[] = [];
      sender.on('accepted', () => { accepted++; });
      sender.on('rejected', (ctx: rhea.EventContext) => refused.push(String(ctx.delivery?.remote_state?.error?.description)));
      for (let i = 0; i < 20; i++) sender.send({ body: `order-${i}`, durable: true });
      await eventually(() => accepted + refused.length >= 20, { timeout: 30000, what: 'every transfer settled' });
      assert.deepEqual(refused, []);
      const got: string[] = [];
      const receiver = c3.open_receiver({ source: { address: 'orders', durable: 2 }, autoaccept: false, credit_window: 5 });
      receiver.on('message', (ctx: rhea.EventContext) => {
        got.push(String(ctx.message!.body));
        ctx.delivery!.accept();
      });
      await eventually(() => got.length >= 20, { timeout: 30000, what: `20 orders on node 3 (have ${got.length})` });
      assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => `order-${i}`), 'in order, once each');
    } finally {
      c1.close();
      c3.close();
    }
  });

  it('request / reply across nodes: a STOMP reply to a /temp-queue reaches the requester on another node', async () => {
    const [requester, responder] = await Promise.all([stompOn(procs[0]), stompOn(procs[1])]);
    clients.push(requester, responder);
    responder.subscribe('/queue/rpc', (m: IMessage) => {
      responder.publish({ destination: m.headers['reply-to'], body: `re: ${m.body}` });
      m.ack();
    }, { ack: 'client-individual' });
    const replies: string[] = [];
    requester.subscribe('/temp-queue/answers', (m: IMessage) => replies.push(m.body));
    await eventually(async () => {
      await sendWithReceipts(requester, '/queue/rpc', [`q${replies.length}-${Date.now()}`], { 'reply-to': '/temp-queue/answers' });
      return true;
    }, { timeout: 20000, what: 'request sent' });
    await eventually(() => replies.length >= 1, { timeout: 20000, what: 'a reply on node 1' });
    assert.match(replies[0], /^re: q0-/);
  });

  it('a queue survives kill -9 of the node that owned it: a consumer on another node gets every acknowledged message', async () => {
    const owner = await stompOn(procs[0]);
    clients.push(owner);
    // The SEND declares the queue on node 1, which owns it from then on.
    const bodies = Array.from({ length: 30 }, (_, i) => `keep-${i}`);
    await sendWithReceipts(owner, '/queue/survivor', bodies);
    await owner.deactivate();
    await procs[0].kill('SIGKILL');
    const reader = await stompOn(procs[1]);
    clients.push(reader);
    const got = collect(reader, '/queue/survivor');
    await eventually(() => got.length >= bodies.length, { timeout: 60000, what: `30 messages after the owner died (have ${got.length})` });
    assert.deepEqual([...new Set(got)].sort(), [...bodies].sort());
    await procs[0].restart();
  });

  it('a STOMP durable subscription outlives kill -9 of its node: resubscribed on another node, it has what was published meanwhile', async () => {
    const headers = { 'activemq.subscriptionName': 'feed' };
    const first = await stompjs(`ws://127.0.0.1:${procs[0].ports.http}/stomp`, { connectHeaders: { 'client-id': 'reader-1' } });
    clients.push(first);
    await new Promise<void>((resolve) => {
      first.watchForReceipt('subscribed', () => resolve());
      first.subscribe('/topic/news', () => undefined, { ...headers, receipt: 'subscribed' });
    });
    await first.deactivate();
    await procs[0].kill('SIGKILL');
    const sender = await stompOn(procs[2]);
    clients.push(sender);
    const bodies = Array.from({ length: 10 }, (_, i) => `news-${i}`);
    await sendWithReceipts(sender, '/topic/news', bodies);
    const again = await stompjs(`ws://127.0.0.1:${procs[1].ports.http}/stomp`, { connectHeaders: { 'client-id': 'reader-1' } });
    clients.push(again);
    const got: string[] = [];
    again.subscribe('/topic/news', (m: IMessage) => { got.push(m.body); m.ack(); }, { ...headers, ack: 'client-individual' });
    await eventually(() => got.length >= bodies.length, { timeout: 60000, what: `10 messages on node 2 (have ${got.length})` });
    assert.deepEqual([...new Set(got)].sort(), [...bodies].sort());
    await procs[0].restart();
  });
});
