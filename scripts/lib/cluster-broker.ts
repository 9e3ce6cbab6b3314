/**
 * The cluster as a BrokerUnderTest: three nats-servers (JetStream, clustered) and three Junction
 * nodes (`--cluster ... --node-id i`), every process a child on free ports of 127.0.0.1. crash()
 * kills -9 one random victim, a Junction node or a nats-server, and watches the survivors'
 * `/api/cluster` until every partition has a leader again and every shared queue an owner (the
 * failover time); recover() waits for that (and at least `minDownMs`), restarts the victim on the
 * same ports and data, and waits until every node lists all nodes again (the rejoin).
 * endpoints() names the live nodes only, in a rotating order, so clients spread over the nodes and
 * a client whose node died reconnects to another.
 */
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { QUEUES_STREAM, queueOfSubject } from '../../plugins/cluster/names.js';
import type { BrokerUnderTest } from './broker-under-test.js';
import { JunctionNode, LISTENERS, type JunctionPorts } from './junction-node.js';
import type { Endpoint, Endpoints, Protocol } from './load/acked-load.js';
import { NatsCluster } from './nats-cluster.js';
import { findNatsServer } from './nats-server.js';
import { freePorts } from './ports.js';

export type VictimKind = 'node' | 'nats';

export interface ClusterBrokerOptions {
  /** NATS stores in baseDir/nats-1..3, node data in baseDir/node-1..3. */
  baseDir: string;
  nodes?: number;
  natsServers?: number;
  host?: string;
  heartbeatMs?: number;
  nodeTimeoutMs?: number;
  /** Which processes may be killed (default both kinds). */
  victims?: readonly VictimKind[];
  /** The victim stays down at least this long (ms), failover or not (default 3000). */
  minDownMs?: number;
  /** Give up waiting for the failover after this long (ms; default 30000); recover() goes on. */
  failoverTimeoutMs?: number;
  /** Further `junction start` flags for every node. */
  args?: string[];
  logLevel?: string;
  log?: (line: string) => void;
}

interface ClusterApiNode {
  id: number;
  leaderOf: number;
  queuesOwned: number;
}

/** What the survivors reported after a kill. */
export interface Failover {
  victim: string;
  kind: VictimKind;
  /** Partitions and shared queues in the cluster right before the kill. */
  partitions: number;
  queues: number;
  /** From the kill until every survivor listed every partition led by a live node (and not the victim); undefined: not within the timeout. */
  leadersMs?: number;
  /** Same for shared queue owners. */
  queuesMs?: number;
  /** Led / owned by the victim right before the kill. */
  victimLed: number;
  victimOwned: number;
  /** From the restart until every node listed all nodes. */
  rejoinMs?: number;
}

const PROTOCOLS: Protocol[] = ['mqtt', 'amqp', 'stomp', 'xmpp', 'kafka'];
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function clusterView(host: string, port: number): Promise<ClusterApiNode[] | undefined> {
  try {
    const res = await fetch(`http://${host}:${port}/api/cluster`, { signal: AbortSignal.timeout(2000) });
    if (res.status !== 200) {
      await res.arrayBuffer();
      return undefined;
    }
    return ((await res.json()) as { nodes: ClusterApiNode[] }).nodes;
  } catch {
    return undefined;
  }
}

export class ClusterBroker implements BrokerUnderTest {
  readonly nodes: JunctionNode[] = [];
  private nats?: NatsCluster;
  private victim?: { kind: VictimKind; index: number; name: string; killedAt: number };
  private watch?: Promise<void>;
  private failover?: Failover;
  private rotation = 0;
  private readonly host: string;
  private readonly log: (line: string) => void;

  constructor(private readonly o: ClusterBrokerOptions) {
    this.host = o.host ?? '127.0.0.1';
    this.log = o.log ?? (() => undefined);
  }

  /** The failover of the last crash (complete once recover() resolved). */
  get lastFailover(): Failover | undefined {
    return this.failover;
  }

  private liveNodes(): JunctionNode[] {
    return this.nodes.filter((n, i) => n.running && !(this.victim?.kind === 'node' && this.victim.index === i));
  }

  readonly endpoints: Endpoints = () => {
    // With no node up (all exited), name them all: clients keep retrying instead of failing here.
    const up = this.liveNodes();
    const live = up.length ? up : this.nodes;
    const k = live.length ? this.rotation++ % live.length : 0;
    const order = [...live.slice(k), ...live.slice(0, k)];
    return Object.fromEntries(PROTOCOLS.map((p) => [p, order.map((n): Endpoint => ({ host: this.host, port: n.ports[p] }))])) as ReturnType<Endpoints>;
  };

  async start(): Promise<void> {
    const binary = findNatsServer();
    if (!binary) throw new Error('nats-server not found: apt-get install nats-server (or set NATS_SERVER_BIN)');
    const servers = this.o.natsServers ?? 3;
    const count = this.o.nodes ?? 3;
    const free = await freePorts(2 * servers + LISTENERS.length * count, this.host);
    this.nats = new NatsCluster({ servers, host: this.host, ports: free.slice(0, servers), clusterPorts: free.slice(servers, 2 * servers), baseDir: this.o.baseDir, clusterName: 'junction-chaos' }, binary);
    await this.nats.start(60000);
    const flags = ['--set', `cluster.heartbeatMs=${this.o.heartbeatMs ?? 250}`, '--set', `cluster.nodeTimeoutMs=${this.o.nodeTimeoutMs ?? 2000}`, ...(this.o.args ?? [])];
    for (let i = 0; i < count; i++) {
      const at = 2 * servers + LISTENERS.length * i;
      const ports = Object.fromEntries(LISTENERS.map((l, j) => [l, free[at + j]])) as JunctionPorts;
      const node = new JunctionNode(
        { name: `node-${i + 1}`, host: this.host, dataDir: join(this.o.baseDir, `node-${i + 1}`), ports, cluster: this.nats.urls, nodeId: i + 1, args: flags, logLevel: this.o.logLevel ?? 'info' },
        { readyTimeoutMs: 60000 },
      );
      this.nodes.push(node);
      await node.start();
    }
    await this.waitForAllNodes(30000);
  }

  private victims(): Array<{ kind: VictimKind; index: number; name: string; pid?: number }> {
    const kinds = this.o.victims ?? ['node', 'nats'];
    const out: Array<{ kind: VictimKind; index: number; name: string; pid?: number }> = [];
    if (kinds.includes('node')) this.nodes.forEach((n, index) => out.push({ kind: 'node', index, name: n.name, pid: n.pid }));
    if (kinds.includes('nats')) this.nats!.servers.forEach((s, index) => out.push({ kind: 'nats', index, name: s.spec.name, pid: s.pid }));
    return out;
  }

  /** Per node (by HTTP port), what /api/cluster says; nodes that do not answer are left out. */
  private async views(nodes: JunctionNode[]): Promise<Array<ClusterApiNode[] | undefined>> {
    return Promise.all(nodes.map((n) => clusterView(this.host, n.ports.http)));
  }

  async crash(): Promise<string> {
    if (this.victim) throw new Error(`${this.victim.name} is still down`);
    const all = this.victims();
    const v = all[Math.floor(Math.random() * all.length)];
    // The totals right before the kill, from a node that is not the victim.
    const observer = this.nodes.find((_, i) => !(v.kind === 'node' && v.index === i))!;
    const before = (await clusterView(this.host, observer.ports.http)) ?? [];
    const victimId = v.kind === 'node' ? v.index + 1 : undefined;
    const partitions = before.reduce((s, n) => s + n.leaderOf, 0);
    const queues = before.reduce((s, n) => s + n.queuesOwned, 0);
    const mine = before.find((n) => n.id === victimId);
    if (v.kind === 'node') await this.nodes[v.index].kill('SIGKILL');
    else await this.nats!.kill(v.index, 'SIGKILL');
    const killedAt = Date.now();
    this.victim = { kind: v.kind, index: v.index, name: v.name, killedAt };
    this.failover = { victim: v.name, kind: v.kind, partitions, queues, victimLed: mine?.leaderOf ?? 0, victimOwned: mine?.queuesOwned ?? 0 };
    this.watch = this.watchFailover(this.failover, killedAt, victimId);
    return `kill -9 ${v.name} (pid ${v.pid})`;
  }

  /** Polls every surviving node until all agree that every partition / queue is led / owned by a live node. */
  private async watchFailover(f: Failover, killedAt: number, victimId: number | undefined): Promise<void> {
    const deadline = killedAt + (this.o.failoverTimeoutMs ?? 30000);
    const survivors = this.liveNodes();
    while (Date.now() < deadline && (f.leadersMs === undefined || f.queuesMs === undefined)) {
      const views = await this.views(survivors);
      const complete = views.every((v) => v !== undefined && !v.some((n) => n.id === victimId) && v.length === survivors.length);
      const now = Date.now() - killedAt;
      if (complete) {
        if (f.leadersMs === undefined && views.every((v) => v!.reduce((s, n) => s + n.leaderOf, 0) >= f.partitions)) f.leadersMs = now;
        if (f.queuesMs === undefined && views.every((v) => v!.reduce((s, n) => s + n.queuesOwned, 0) >= f.queues)) f.queuesMs = now;
      }
      await sleep(100);
    }
  }

  async recover(): Promise<void> {
    const v = this.victim;
    if (!v) return;
    await this.watch;
    const f = this.failover!;
    this.log(`${v.name} down: partitions led again after ${f.leadersMs ?? '(timeout)'} ms, queues owned again after ${f.queuesMs ?? '(timeout)'} ms`);
    const rest = (this.o.minDownMs ?? 3000) - (Date.now() - v.killedAt);
    if (rest > 0) await sleep(rest);
    const t0 = Date.now();
    if (v.kind === 'node') await this.nodes[v.index].start();
    else await this.nats!.restart(v.index, 60000);
    this.victim = undefined;
    await this.waitForAllNodes(60000);
    f.rejoinMs = Date.now() - t0;
  }

  /** Until every node lists every node. */
  private async waitForAllNodes(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const views = await this.views(this.nodes);
      if (views.every((v) => v?.length === this.nodes.length)) return;
      if (Date.now() > deadline) throw new Error(`not every node lists ${this.nodes.length} nodes after ${timeoutMs} ms: ${JSON.stringify(views.map((v) => v?.map((n) => n.id)))}`);
      await sleep(200);
    }
  }

  /**
   * Messages still stored for the shared queues whose names contain `part` (queue -> count). After
   * a read-back that acknowledged everything it got, these were stored and never delivered.
   */
  async queueBacklog(part: string): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const nc = await connect({ servers: this.nats!.urls, timeout: 5000 });
    try {
      const jsm = await jetstreamManager(nc, { timeout: 10000 });
      const info = await jsm.streams.info(QUEUES_STREAM, { subjects_filter: '>' });
      for (const [subject, n] of Object.entries(info.state.subjects ?? {})) {
        const queue = queueOfSubject(subject);
        if (queue?.includes(part)) out.set(queue, n);
      }
    } finally {
      await nc.close().catch(() => undefined);
    }
    return out;
  }

  /** Each node's view of the queues whose name holds `part`: ready, unacknowledged, consumers (where a queue is stuck). */
  async queueViews(part: string): Promise<string[]> {
    return Promise.all(this.nodes.map(async (n) => {
      try {
        const res = await fetch(`http://${this.host}:${n.ports.http}/api/queues?name=${encodeURIComponent(part)}`, { signal: AbortSignal.timeout(5000) });
        const body = await res.json() as { queues: Array<{ name: string; messagesReady: number; messagesUnacked: number; consumers: number; ownerNode?: number; stats: { published: number; delivered: number; acked: number } }> };
        return `${n.name}: ${body.queues.map((q) => `${q.name} owner ${q.ownerNode ?? '?'} ready ${q.messagesReady} unacked ${q.messagesUnacked} consumers ${q.consumers} published ${q.stats.published} delivered ${q.stats.delivered} acked ${q.stats.acked}`).join('; ') || 'none'}`;
      } catch (err) {
        return `${n.name}: not readable (${(err as Error).message})`;
      }
    }));
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
    await this.nats?.stop();
  }

  output(): string {
    const nodes = this.nodes.map((n) => `--- ${n.name}\n${n.output().split('\n').slice(-400).join('\n')}`);
    const nats = (this.nats?.servers ?? []).map((s) => `--- ${s.spec.name}\n${s.output().split('\n').slice(-100).join('\n')}`);
    return [...nodes, ...nats].join('\n');
  }

  pids(): number[] {
    return [...this.nodes.map((n) => n.pid), ...(this.nats?.servers ?? []).map((s) => s.pid)].filter((p): p is number => p !== undefined);
  }

  httpUrls(): string[] {
    return this.nodes.map((n) => `http://${this.host}:${n.ports.http}`);
  }
}
