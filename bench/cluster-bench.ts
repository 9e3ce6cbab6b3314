/**
 * `npm run bench -- cluster`: the embedded single node beside 1 and 3 Junction nodes on a 3-server
 * JetStream cluster (Debian's nats-server), every broker a child process; figures printed, not
 * asserted. Workloads: Kafka acks=all produce (100 B and 1 KB records, topics at RF1 and RF3) and
 * consume; MQTT QoS 1 1->1 and STOMP persistent queue 1->1 with the two clients on different nodes;
 * MQTT QoS 1 latency at a fixed rate across nodes; failover time after kill -9 of a partition
 * leader. CPU per message is read from /proc/<pid>/stat of every node and nats-server before and
 * after each phase. BENCH_SECONDS (default 5) sets each timed phase.
 *
 *   npm run bench -- cluster      or      node dist/bench/cluster-bench.js
 */
import { pathToFileURL } from 'node:url';
import { jetStreamStreams, startCluster, startEmbedded, type Deployment } from './cluster-setup.js';
import { BATCH, IN_FLIGHT, consume, createTopic, failover, produce, PARTITIONS, type FailoverRun } from './cluster-kafka.js';
import { mqttLatency, mqttThroughput, stompQueue, type FlowRun, type LatencyRun } from './cluster-messaging.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5) || 5;
const LATENCY_RATE = 500;
const IDLE_SECONDS = 3;
const fmt = (n: number, d = 0): string => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : '-');

/** CPU µs per message of each node ("n1/n2/n3") and of the NATS servers together, over `fn`. */
async function withCpu<T>(d: Deployment, fn: () => Promise<T>, messages: (r: T) => number): Promise<{ result: T; nodes: string; nats: string }> {
  const before = d.cpu();
  const result = await fn();
  const after = d.cpu();
  const n = messages(result);
  const per = (s: number): string => (n > 0 ? fmt((s * 1e6) / n, 1) : '-');
  return {
    result,
    nodes: after.nodes.map((s, i) => (d.nodes[i].running || s > 0 ? per(s - before.nodes[i]) : '-')).join(' / '),
    nats: d.clustered ? per(after.nats - before.nats) : '-',
  };
}

function table(title: string, rows: string[][]): void {
  console.log(`\n${title}`);
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  rows.forEach((r, k) => {
    console.log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  '));
    if (k === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  });
}

const flowCols = (r: FlowRun): string[] => [fmt(r.rate), String(r.acked), String(r.lost), String(r.duplicates)];

interface Tables {
  streams: string[][];
  idle: string[][];
  produce: string[][];
  consume: string[][];
  mqtt: string[][];
  stomp: string[][];
  latency: string[][];
  failover: string[][];
  problems: string[];
}

async function kafkaPhases(d: Deployment, t: Tables): Promise<void> {
  for (const rf of d.clustered ? [1, 3] : [1]) {
    for (const size of [100, 1024]) {
      const topic = `bench-r${rf}-${size}`;
      const label = d.clustered ? `${d.name}, RF${rf}` : d.name;
      await createTopic(d, topic, rf);
      const p = await withCpu(d, () => produce(d, topic, size, SECONDS), (r) => r.records);
      const pr = p.result;
      if (pr.errors) t.problems.push(`${label} ${size} B produce: ${pr.errors} sends failed (first: ${pr.firstError})`);
      t.produce.push([label, `${size} B`, fmt(pr.records / pr.sec), fmt(pr.bytes / pr.sec / 1e6, 1), fmt((1000 * pr.sec * IN_FLIGHT) / (pr.records / BATCH), 1), String(pr.errors), p.nodes, p.nats]);
      const c = await withCpu(d, () => consume(d, topic, pr.records, Math.max(30, 4 * SECONDS)), (r) => r.records);
      const cr = c.result;
      if (cr.records < cr.expected) t.problems.push(`${label} ${size} B consume: read ${cr.records} of ${cr.expected} acknowledged records`);
      t.consume.push([label, `${size} B`, fmt(cr.sec > 0 ? cr.records / cr.sec : NaN), `${cr.records}/${cr.expected}`, c.nodes, c.nats]);
    }
  }
}

async function messagingPhases(d: Deployment, t: Tables): Promise<void> {
  const [a, b] = [d.nodes[0], d.nodes[1] ?? d.nodes[0]];
  const path = `${a.name} -> ${b.name}`;
  const m = await withCpu(d, () => mqttThroughput(a.ports.mqtt, b.ports.mqtt, SECONDS), (r) => r.delivered);
  if (m.result.lost) t.problems.push(`${d.name} MQTT QoS 1: ${m.result.lost} PUBACKed messages not delivered`);
  t.mqtt.push([d.name, path, ...flowCols(m.result), m.nodes, m.nats]);

  const s = await withCpu(d, () => stompQueue(a.ports.stomp, b.ports.stomp, `/queue/bench-${d.nodes.length}`, SECONDS), (r) => r.delivered);
  if (s.result.error) t.problems.push(`${d.name} STOMP: ERROR ${s.result.error}`);
  if (s.result.lost) t.problems.push(`${d.name} STOMP: ${s.result.lost} messages with a RECEIPT not delivered`);
  t.stomp.push([d.name, path, ...flowCols(s.result), s.nodes, s.nats]);

  const l = await withCpu<LatencyRun>(d, () => mqttLatency(a.ports.mqtt, b.ports.mqtt, SECONDS, LATENCY_RATE), (r) => r.sent);
  if (l.result.samples < l.result.expected) t.problems.push(`${d.name} latency: ${l.result.samples} of ${l.result.expected} messages arrived`);
  t.latency.push([d.name, path, fmt(l.result.p50, 2), fmt(l.result.p99, 2), fmt(l.result.max, 1), `${l.result.samples}/${l.result.expected}`, l.nodes, l.nats]);
}

/** CPU of every process with no clients for IDLE_SECONDS (heartbeats, Raft, timers), in % of one core. */
async function idle(d: Deployment, t: Tables): Promise<void> {
  await new Promise((r) => setTimeout(r, 1000));
  const before = d.cpu();
  await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
  const after = d.cpu();
  const pct = (s: number): string => fmt((100 * s) / IDLE_SECONDS, 1);
  t.idle.push([d.name, after.nodes.map((s, i) => pct(s - before.nodes[i])).join(' / '), d.clustered ? pct(after.nats - before.nats) : '-']);
}

async function failoverPhase(d: Deployment, t: Tables): Promise<void> {
  const f: FailoverRun = await failover(d, 'bench-failover');
  if (f.readBack < f.records) t.problems.push(`failover: read back ${f.readBack} of ${f.records} acknowledged records`);
  t.failover.push([d.name, `node-${f.leader}`, fmt(f.ms), String(f.failedSends), `${f.readBack}/${f.records}`, (f.firstError ?? '-').slice(0, 60)]);
}

/** One row per stream, the partition streams (JP_*) summed per replication factor. */
function streamRows(d: Deployment, streams: Awaited<ReturnType<typeof jetStreamStreams>>, t: Tables): void {
  const rows = new Map<string, { n: number; messages: number; bytes: number }>();
  for (const s of streams) {
    const key = `${s.name.startsWith('JP_') ? 'JP_* (Kafka partitions)' : s.name}\0R${s.replicas}`;
    const r = rows.get(key) ?? { n: 0, messages: 0, bytes: 0 };
    rows.set(key, { n: r.n + 1, messages: r.messages + s.messages, bytes: r.bytes + s.bytes });
  }
  for (const [key, r] of rows) {
    const [name, replicas] = key.split('\0');
    t.streams.push([d.name, r.n > 1 ? `${name} x${r.n}` : name, replicas, String(r.messages), fmt(r.bytes / 1e6, 1)]);
  }
}

async function onDeployment(start: () => Promise<Deployment>, t: Tables, last: boolean): Promise<void> {
  const d = await start();
  try {
    console.log(`${d.name}: ${d.nodes.map((n) => `${n.name} pid ${n.pid}`).join(', ')}${d.nats ? `; nats-servers ${d.nats.servers.map((s) => s.pid).join(', ')}` : ''}`);
    await idle(d, t);
    await kafkaPhases(d, t);
    await messagingPhases(d, t);
    if (last) await failoverPhase(d, t);
    streamRows(d, await jetStreamStreams(d), t);
  } catch (err) {
    t.problems.push(`${d.name}: ${(err as Error).stack ?? err}`);
  } finally {
    await d.stop();
  }
}

export async function runClusterBench(): Promise<void> {
  const cpuHead = ['CPU µs/msg per node', 'CPU µs/msg nats (3)'];
  const t: Tables = {
    streams: [['configuration', 'JetStream stream', 'replicas', 'messages', 'MB']],
    idle: [['configuration', 'CPU % per node', 'CPU % nats (3)']],
    produce: [['configuration', 'record', 'records/s', 'MB/s', 'ms/send', 'errors', ...cpuHead]],
    consume: [['configuration', 'record', 'records/s', 'read', ...cpuHead]],
    mqtt: [['configuration', 'path', 'msgs/s', 'acked', 'lost', 'dups', ...cpuHead]],
    stomp: [['configuration', 'path', 'msgs/s', 'receipts', 'lost', 'dups', ...cpuHead]],
    latency: [['configuration', 'path', 'p50 ms', 'p99 ms', 'max ms', 'received', ...cpuHead]],
    failover: [['configuration', 'killed', 'ms to next ack', 'failed sends', 'read back', 'first error']],
    problems: [],
  };
  // scripts/lib/child.ts SIGKILLs every child on 'exit', which a signal's default action skips.
  const onSignal = (signal: NodeJS.Signals): void => process.exit(signal === 'SIGINT' ? 130 : 143);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  console.log(`BENCH_SECONDS=${SECONDS}; Kafka: kafkajs, ${PARTITIONS} partitions, ${BATCH} records per send, ${IN_FLIGHT / PARTITIONS} sends in flight per partition, acks=all`);
  await onDeployment(startEmbedded, t, false);
  await onDeployment(() => startCluster(1), t, false);
  await onDeployment(() => startCluster(3), t, true);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);

  table(`Idle: no clients, ${IDLE_SECONDS} s (CPU in % of one core)`, t.idle);
  table('Kafka produce, acks=all (ms/send: mean time for a send of 100 records to be acknowledged)', t.produce);
  table('Kafka consume from the beginning (consumer group; time from the group join to the last record)', t.consume);
  table('MQTT QoS 1, 1 -> 1, 100 B (publisher at most 500 ahead of the subscriber)', t.mqtt);
  table('STOMP persistent queue 1 -> 1, 100 B, receipt per send (200 unanswered), client-individual acks', t.stomp);
  table(`Latency: MQTT QoS 1 at ${LATENCY_RATE} msg/s, 100 B, publish to delivery`, t.latency);
  table('Failover: kill -9 of the leader of partition 0 of an RF3 topic (default cluster.nodeTimeoutMs 5000)', t.failover);
  table('JetStream streams at the end of each clustered run (JP_<topic>_<p>: one message per record batch)', t.streams);
  console.log('\nCPU µs/msg: CPU time (user + system, /proc/<pid>/stat) of each process over the phase divided by the messages' +
    ' of the phase; for a single node, pub and sub share it. nats: the three nats-servers together.');
  if (t.problems.length) {
    console.log('\nproblems:');
    for (const p of t.problems) console.log(`  - ${p}`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runClusterBench().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
