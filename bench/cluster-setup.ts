/**
 * The processes under test for bench/cluster-bench.ts: an embedded single node, or N Junction
 * nodes on a fresh 3-server JetStream cluster, every one a child process on free ports with its
 * data in a temporary directory, and the CPU time each of them spends (from /proc/<pid>/stat).
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JunctionNode, LISTENERS, type JunctionPorts } from '../scripts/lib/junction-node.js';
import { NatsCluster } from '../scripts/lib/nats-cluster.js';
import { findNatsServer } from '../scripts/lib/nats-server.js';
import { freePorts } from '../scripts/lib/ports.js';

const HOST = '127.0.0.1';
/** USER_HZ: the unit of utime/stime in /proc/<pid>/stat (100 on every Linux Node supports). */
const CLOCK_TICKS = 100;

/** CPU seconds (user + system) the process has used so far; 0 when it is gone. */
export function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

export interface Deployment {
  /** Row label in the tables, e.g. "3 nodes". */
  name: string;
  clustered: boolean;
  nodes: JunctionNode[];
  nats?: NatsCluster;
  /** Every node's Kafka address, for kafkajs seeds. */
  kafkaSeeds(): string[];
  /** CPU seconds so far: one entry per node, then the NATS servers together. */
  cpu(): { nodes: number[]; nats: number };
  /** Stops every process (SIGTERM, SIGKILL after a grace period) and removes the data. */
  stop(): Promise<void>;
}

async function nodePorts(): Promise<JunctionPorts> {
  const free = await freePorts(LISTENERS.length, HOST);
  return Object.fromEntries(LISTENERS.map((l, i) => [l, free[i]])) as JunctionPorts;
}

function deployment(name: string, dir: string, nodes: JunctionNode[], nats?: NatsCluster): Deployment {
  return {
    name,
    clustered: nats !== undefined,
    nodes,
    nats,
    kafkaSeeds: () => nodes.filter((n) => n.running).map((n) => `${HOST}:${n.ports.kafka}`),
    cpu: () => ({
      nodes: nodes.map((n) => cpuSeconds(n.pid)),
      nats: (nats?.servers ?? []).reduce((sum, s) => sum + cpuSeconds(s.pid), 0),
    }),
    stop: async () => {
      await Promise.all(nodes.map((n) => n.stop(5000).catch(() => null)));
      await nats?.stop().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One Junction process with embedded storage (no --cluster). */
export async function startEmbedded(): Promise<Deployment> {
  const dir = mkdtempSync(join(tmpdir(), 'junction-bench-'));
  const node = new JunctionNode({ name: 'embedded', host: HOST, dataDir: join(dir, 'node'), ports: await nodePorts(), logLevel: 'warn' });
  const d = deployment('embedded', dir, [node]);
  try {
    await node.start();
  } catch (err) {
    await d.stop();
    throw err;
  }
  return d;
}

/** `count` Junction nodes (ids 1..count) on a fresh 3-server JetStream cluster. */
export async function startCluster(count: number): Promise<Deployment> {
  const binary = findNatsServer();
  if (!binary) throw new Error('nats-server not found (apt-get install -y nats-server)');
  const dir = mkdtempSync(join(tmpdir(), 'junction-bench-'));
  const ports = await freePorts(6, HOST);
  const nats = new NatsCluster({ servers: 3, host: HOST, ports: ports.slice(0, 3), clusterPorts: ports.slice(3), baseDir: dir }, binary);
  const nodes: JunctionNode[] = [];
  const d = deployment(`${count} node${count > 1 ? 's' : ''}`, dir, nodes, nats);
  try {
    await nats.start();
    for (let id = 1; id <= count; id++) {
      const node = new JunctionNode({ name: `node-${id}`, host: HOST, dataDir: join(dir, `node-${id}`), ports: await nodePorts(), cluster: nats.urls, nodeId: id, logLevel: 'warn' });
      nodes.push(node);
      await node.start();
    }
  } catch (err) {
    await d.stop();
    throw err;
  }
  return d;
}

/** Messages and bytes in each JetStream stream of the cluster (an empty list without one). */
export async function jetStreamStreams(d: Deployment): Promise<Array<{ name: string; messages: number; bytes: number; replicas: number }>> {
  if (!d.nats) return [];
  const nc = await connect({ servers: d.nats.urls, timeout: 5000 });
  try {
    const jsm = await jetstreamManager(nc, { timeout: 5000 });
    const out = [];
    for await (const si of jsm.streams.list()) out.push({ name: si.config.name, messages: si.state.messages, bytes: si.state.bytes, replicas: si.config.num_replicas });
    return out.sort((a, b) => a.name.localeCompare(b.name));
  } finally {
    await nc.close();
  }
}
