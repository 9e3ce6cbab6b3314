/**
 * Deep queue benchmark (issue 14): a durable queue filled with N 100-byte persistent messages over
 * STOMP with no consumer, against a Junction node in a child process (default settings: fsync
 * `interval`, queues.memoryBytes 32 MiB; the queue bounds maxLength / maxBytes lifted so depth is
 * limited by disk only):
 *   - publish rate, peak broker RSS (VmHWM), bytes on disk per message;
 *   - restart with that backlog after kill -9 (from the newest periodic index snapshot, then with
 *     that snapshot removed: a full scan) and after a clean stop: time to ready, RSS and V8 heap
 *     after it (the index: what a queued message costs in memory when its body is on disk);
 *   - drain rate from the paged queue, then the same fill and drain on a node whose budget holds
 *     everything in memory, for comparison.
 * Then the same fill and drain, with the same load generator, against RabbitMQ's STOMP plugin when
 * Debian's rabbitmq-server is installed (a fresh node on temporary ports and directories for each
 * queue kind): a durable classic queue in lazy mode (a policy, `queue-mode: lazy`; the 3.10 STOMP
 * plugin takes no `x-queue-mode` header) and a quorum queue (`x-queue-type:quorum` on SEND and
 * SUBSCRIBE); publish rate, peak RSS of the Erlang VM (beam.smp), bytes on disk, drain rate.
 * The load generator is bench/stomp-loadgen.ts (raw TCP STOMP 1.2, receipts, a window of 500).
 * QUEUES_BENCH_N sets N (default 1,000,000: each phase runs 15-40 s on a 2-core VM, the whole
 * bench about five minutes without RabbitMQ; the issue's 20 million would take over half an hour
 * per run here). QUEUES_BENCH_PAGED_ONLY=1 skips the in-memory comparison and the delivery-record
 * cost (for a large N: the in-memory node would need about 1.2 KB of RAM per message).
 * QUEUES_BENCH_RABBITMQ picks the RabbitMQ queue kinds: `lazy,quorum` (default), one of them, or
 * `none`.
 *
 *   npm run bench -- queues      or      node dist/bench/queues-bench.js
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Broker, DEFAULT_QUEUE_MEMORY_BYTES } from '../core/broker.js';
import { createMessage } from '../core/message.js';
import type { QueueHost } from '../core/queue.js';
import { FileStore } from '../core/storage/file-store.js';
import { JunctionNode, LISTENERS, type JunctionPorts } from '../scripts/lib/junction-node.js';
import { freePorts } from '../scripts/lib/ports.js';
import { metric, procStatus, timedStart } from './node-probes.js';
import { jsonLineChild, RABBIT_MISSING, runLoad, startRabbitmq } from './peers.js';

const LOADGEN = fileURLToPath(new URL('./stomp-loadgen.js', import.meta.url));
const N = Number(process.env.QUEUES_BENCH_N ?? '1000000') || 1_000_000;
/** QUEUES_BENCH_PAGED_ONLY=1: only the paged run (a larger N without the in-memory comparison, which needs the RAM). */
const PAGED_ONLY = process.env.QUEUES_BENCH_PAGED_ONLY === '1';
const SIZE = 100;
const PRODUCERS = 2;
const DEST = '/queue/bench.deep';
const MiB = 1024 * 1024;
/** Fill and drain give up after this long (a broker that blocks publishers would hang the bench). */
const PHASE_TIMEOUT_MS = Math.max(900_000, N);

interface RabbitKind {
  key: string;
  label: string;
  dest: string;
  /** Headers on every SEND and SUBSCRIBE (they declare the queue). */
  headers: Record<string, string>;
  /** `rabbitmqctl set_policy` arguments applied before the fill. */
  policy?: string[];
}

const RABBIT_KINDS: RabbitKind[] = [
  {
    key: 'lazy', label: 'RabbitMQ classic queue, lazy', dest: '/queue/bench.deep.lazy', headers: {},
    policy: ['set_policy', '--apply-to', 'queues', 'bench-lazy', '^bench\\.deep\\.lazy$', '{"queue-mode":"lazy"}'],
  },
  { key: 'quorum', label: 'RabbitMQ quorum queue', dest: '/queue/bench.deep.quorum', headers: { 'x-queue-type': 'quorum' } },
];
const RABBIT_WANTED = (process.env.QUEUES_BENCH_RABBITMQ ?? 'lazy,quorum').split(',').map((k) => k.trim());

/** What the RabbitMQ runs measure (the same phases as Junction's, without the restarts). */
interface PeerFigures {
  publishRate: number;
  /** RSS of the idle node before the fill. */
  startRssMiB: number;
  peakRssMiB: number;
  diskBytesPerMessage: number;
  drainRate: number;
  drainPeakRssMiB: number;
}

interface Figures {
  publishRate: number;
  peakRssMiB: number;
  diskBytesPerMessage: number;
  restartMs?: number;
  emptyStartMs?: number;
  rssAfterRestartMiB?: number;
  heapAfterRestartMiB?: number;
  emptyHeapMiB?: number;
  drainRate: number;
  drainPeakRssMiB: number;
  /** V8 heap a recovered queued message costs (measured in this process, after a full GC). */
  indexBytesPerMessage?: number;
  recoverMs?: number;
  recoveredFrom?: string;
  /** Time to ready after kill -9: the newest periodic index snapshot plus the journal written after it. */
  crashRestartMs?: number;
  /** How that start rebuilt the index (snapshot or scan), and the snapshots taken while filling. */
  crashRestartFrom?: string;
  snapshotsWhileFilling?: number;
  /** Time to ready after kill -9 with the snapshot removed: a full scan of the journal (as before periodic snapshots). */
  fullScanRestartMs?: number;
}

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** V8 heap plus typed-array backing stores (the packed index lives in the latter). */
function heapAndArrays(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/**
 * Opens the store in this process: memory the recovered backlog holds (V8 heap and array buffers
 * after a full GC), the time to open, and how the journal's index was rebuilt.
 */
async function measureIndex(dir: string): Promise<{ bytesPerMessage: number; ms: number; paged: number; from: string }> {
  gc();
  const before = heapAndArrays();
  const t0 = performance.now();
  const store = new FileStore({ dir, fsync: 'interval' });
  const open = store.open.bind(store);
  let from = '?';
  store.open = async (o) => {
    const r = await open(o);
    from = r.journalIndex ?? '?';
    return r;
  };
  const broker = new Broker(store);
  await broker.open();
  const ms = performance.now() - t0;
  gc();
  const after = heapAndArrays();
  const paged = broker.queueMemory.pagedMessages;
  await broker.close();
  return { bytesPerMessage: (after - before) / N, ms, paged, from };
}

function dirBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    n += e.isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return n;
}

async function startNode(dataDir: string, memoryBytes: number): Promise<JunctionNode> {
  const free = await freePorts(LISTENERS.length, '127.0.0.1');
  const ports = Object.fromEntries(LISTENERS.map((l, i) => [l, free[i]])) as JunctionPorts;
  const node = new JunctionNode({
    name: 'bench', host: '127.0.0.1', dataDir, ports, logLevel: 'warn',
    env: { JUNCTION_QUEUES_MAX_LENGTH: '-1', JUNCTION_QUEUES_MAX_BYTES: '-1', JUNCTION_QUEUES_MEMORY_BYTES: String(memoryBytes) },
  }, { readyTimeoutMs: 300_000 });
  await node.start();
  return node;
}

/** N messages from PRODUCERS producers, no consumer; resolves with messages per second. */
async function fill(port: number, dest = DEST, headers: Record<string, string> = {}): Promise<number> {
  const per = Math.ceil(N / PRODUCERS);
  const t0 = performance.now();
  const children: ReturnType<typeof jsonLineChild>[] = [];
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      Promise.all(Array.from({ length: PRODUCERS }, () => new Promise<void>((resolve, reject) => {
        const p = jsonLineChild(LOADGEN, { role: 'producer', port, dest, count: per, size: SIZE, persistent: true, window: 500, ack: 'client-individual', prefetch: 0, conns: 1, headers }, (o) => {
          if (o.done) resolve();
        });
        children.push(p);
        p.on('exit', (code) => (code ? reject(new Error(`producer exited with ${code}`)) : resolve()));
      }))),
      new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`fill: not done within ${PHASE_TIMEOUT_MS / 1000} s`)), PHASE_TIMEOUT_MS); }),
    ]);
  } finally {
    clearTimeout(timer);
    for (const p of children) if (p.exitCode === null) p.kill('SIGKILL');
  }
  return (per * PRODUCERS) / ((performance.now() - t0) / 1000);
}

async function drain(port: number, dest = DEST, headers: Record<string, string> = {}): Promise<number> {
  return runLoad({
    name: 'drain', script: LOADGEN, producers: [], total: Math.ceil(N / PRODUCERS) * PRODUCERS, deliveries: Math.ceil(N / PRODUCERS) * PRODUCERS,
    consumers: [{ role: 'consumer', port, dest, count: 0, size: SIZE, persistent: true, window: 0, ack: 'client-individual', prefetch: 1000, conns: 1, headers }],
    timeoutMs: PHASE_TIMEOUT_MS,
  });
}

/** Versions for the figures: RabbitMQ from its install directory, Erlang/OTP from its release file. */
function rabbitVersions(): string {
  let rabbit = '?';
  let otp = '?';
  try {
    const d = readdirSync('/usr/lib/rabbitmq/lib').find((x) => x.startsWith('rabbitmq_server-'));
    if (d) rabbit = d.slice('rabbitmq_server-'.length);
    const rel = readdirSync('/usr/lib/erlang/releases').find((x) => existsSync(join('/usr/lib/erlang/releases', x, 'OTP_VERSION')));
    if (rel) otp = readFileSync(join('/usr/lib/erlang/releases', rel, 'OTP_VERSION'), 'utf8').trim();
  } catch { /* not installed */ }
  return `RabbitMQ ${rabbit}, Erlang/OTP ${otp}`;
}

/**
 * One RabbitMQ queue kind on a fresh node (so VmHWM is this run's): fill with no consumer, then one
 * consumer drains. Null when rabbitmq-server is not installed.
 */
async function runRabbit(kind: RabbitKind): Promise<PeerFigures | null> {
  const dir = mkdtempSync(join(tmpdir(), 'junction-queues-bench-rabbit-'));
  try {
    const rabbit = await startRabbitmq(dir, { plugin: 'rabbitmq_stomp', listenerKey: 'stomp.listeners.tcp.1' });
    if (!rabbit) return null;
    try {
      const pid = rabbit.pid;
      if (!pid) throw new Error('no pid in the node\'s pid file: cannot read its RSS');
      const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      // The STOMP port opens before the node's boot ends; rabbitmqctl commands need it ended.
      await rabbit.ctl!('await_startup');
      if (kind.policy) await rabbit.ctl!(...kind.policy);
      const startRssMiB = procStatus(pid, 'VmRSS');
      const idleDisk = dirBytes(join(dir, 'mnesia'));
      const publishRate = await fill(rabbit.port, kind.dest, kind.headers);
      const peakRssMiB = procStatus(pid, 'VmHWM');
      // What the fill added to the node's directory (schema, logs and the empty node's files excluded).
      const diskBytesPerMessage = (dirBytes(join(dir, 'mnesia')) - idleDisk) / N;
      console.log(`  ${kind.label}: filled ${N} messages at ${Math.round(publishRate)} msg/s, peak RSS (${comm}, pid ${pid}) ${peakRssMiB.toFixed(0)} MiB (idle node: ${startRssMiB.toFixed(0)} MiB), ${diskBytesPerMessage.toFixed(1)} bytes on disk per message`);
      // What the queue really is (type, policy applied, depth).
      const queues = await rabbit.ctl!('list_queues', '--no-table-headers', '--quiet', 'name', 'type', 'durable', 'policy', 'messages');
      console.log(`  ${kind.label}: rabbitmqctl list_queues name type durable policy messages: ${queues.trim().replace(/\s+/g, ' ')}`);
      const drainRate = await drain(rabbit.port, kind.dest, kind.headers);
      const drainPeakRssMiB = procStatus(pid, 'VmHWM');
      console.log(`  ${kind.label}: drained at ${Math.round(drainRate)} msg/s (peak RSS of the process ${drainPeakRssMiB.toFixed(0)} MiB)`);
      return { publishRate, startRssMiB, peakRssMiB, diskBytesPerMessage, drainRate, drainPeakRssMiB };
    } finally {
      await rabbit.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every wanted RabbitMQ queue kind; a failed one is reported and skipped. */
async function runRabbits(): Promise<Array<[RabbitKind, PeerFigures]>> {
  const out: Array<[RabbitKind, PeerFigures]> = [];
  const kinds = RABBIT_KINDS.filter((k) => RABBIT_WANTED.includes(k.key));
  if (kinds.length === 0) return out;
  console.log(`  the same load against ${rabbitVersions()} (rabbitmq_stomp), one fresh node per queue kind:`);
  for (const kind of kinds) {
    try {
      const f = await runRabbit(kind);
      if (!f) {
        console.log(`  ${RABBIT_MISSING}`);
        return out;
      }
      out.push([kind, f]);
    } catch (err) {
      console.log(`  ${kind.label}: failed: ${(err as Error).message}`);
    }
  }
  return out;
}

/** Junction against RabbitMQ: the figures both runs have. */
function printComparison(junction: Array<[string, Figures]>, rabbits: Array<[RabbitKind, PeerFigures]>): void {
  if (rabbits.length === 0) return;
  const cols = [...junction.map(([l, f]) => [l, f] as const), ...rabbits.map(([k, f]) => [k.label, f] as const)];
  const rate = (x: number) => `${Math.round(x).toLocaleString('en-US')} msg/s`;
  console.log(`\n| figure (${N.toLocaleString('en-US')} x ${SIZE} B, same load generator) | ${cols.map(([l]) => l).join(' | ')} |`);
  console.log(`|---|${cols.map(() => '---|').join('')}`);
  console.log(`| publish rate, no consumer | ${cols.map(([, f]) => rate(f.publishRate)).join(' | ')} |`);
  console.log(`| peak broker RSS while filling | ${cols.map(([, f]) => `${f.peakRssMiB.toFixed(0)} MiB`).join(' | ')} |`);
  console.log(`| bytes on disk per message (Junction: journal; RabbitMQ: node directory growth) | ${cols.map(([, f]) => f.diskBytesPerMessage.toFixed(1)).join(' | ')} |`);
  console.log(`| drain rate | ${cols.map(([, f]) => rate(f.drainRate)).join(' | ')} |`);
  console.log(`| peak RSS of the draining process (since it started) | ${cols.map(([, f]) => `${f.drainPeakRssMiB.toFixed(0)} MiB`).join(' | ')} |`);
}

async function run(label: string, memoryBytes: number, restart: boolean): Promise<Figures> {
  const dir = mkdtempSync(join(tmpdir(), 'junction-queues-bench-'));
  let node: JunctionNode | undefined;
  try {
    node = await startNode(dir, memoryBytes);
    const emptyHeapMiB = (await metric(node.ports.http, 'nodejs_heap_size_used_bytes')) / MiB;
    const publishRate = await fill(node.ports.stomp);
    const peakRssMiB = procStatus(node.pid!, 'VmHWM');
    const diskBytesPerMessage = dirBytes(join(dir, 'journal')) / N;
    const out: Figures = { publishRate, peakRssMiB, diskBytesPerMessage, drainRate: 0, drainPeakRssMiB: 0 };
    console.log(`  ${label}: filled ${N} messages at ${Math.round(publishRate)} msg/s, peak RSS ${peakRssMiB.toFixed(0)} MiB, ${diskBytesPerMessage.toFixed(1)} bytes on disk per message`);
    if (restart) {
      // kill -9 first: the newest periodic index snapshot (storage.snapshotEveryBytes) plus the journal written after it.
      out.snapshotsWhileFilling = await metric(node.ports.http, 'junction_journal_index_snapshots_total');
      await node.kill('SIGKILL');
      out.crashRestartMs = await timedStart(node);
      out.crashRestartFrom = (await metric(node.ports.http, 'junction_journal_index_from_snapshot')) === 1 ? 'snapshot' : 'scan';
      console.log(`  ${label}: restart after kill -9 (${out.snapshotsWhileFilling} periodic snapshots taken while filling; index from the ${out.crashRestartFrom}) ready in ${(out.crashRestartMs / 1000).toFixed(2)} s, RSS ${procStatus(node.pid!, 'VmRSS').toFixed(0)} MiB`);
      // kill -9 again with the snapshot removed: a full scan, as every crash restart was before periodic snapshots.
      await node.kill('SIGKILL');
      rmSync(join(dir, 'journal', 'index.snap'), { force: true });
      out.fullScanRestartMs = await timedStart(node);
      console.log(`  ${label}: restart after kill -9 with no snapshot (full scan of the journal) ready in ${(out.fullScanRestartMs / 1000).toFixed(2)} s`);
      // Then a clean stop (index snapshot written) and a start that loads it.
      await node.stop();
      out.restartMs = await timedStart(node);
      out.rssAfterRestartMiB = procStatus(node.pid!, 'VmRSS');
      out.heapAfterRestartMiB = (await metric(node.ports.http, 'nodejs_heap_size_used_bytes')) / MiB;
      out.emptyHeapMiB = emptyHeapMiB;
      const paged = await metric(node.ports.http, 'junction_queue_paged_messages');
      console.log(`  ${label}: restart with the backlog ready in ${(out.restartMs / 1000).toFixed(2)} s, RSS ${out.rssAfterRestartMiB.toFixed(0)} MiB, heap ${out.heapAfterRestartMiB.toFixed(0)} MiB (empty broker: ${emptyHeapMiB.toFixed(0)} MiB), ${paged} messages paged`);
      await node.stop();
      const index = await measureIndex(dir);
      out.indexBytesPerMessage = index.bytesPerMessage;
      out.recoverMs = index.ms;
      out.recoveredFrom = index.from;
      console.log(`  ${label}: in this process, opening the store recovers ${index.paged} paged messages in ${(index.ms / 1000).toFixed(2)} s (index from the ${index.from}); they hold ${index.bytesPerMessage.toFixed(1)} bytes of heap and array buffers each after a full GC`);
      await node.start();
    }
    out.drainRate = await drain(node.ports.stomp);
    out.drainPeakRssMiB = procStatus(node.pid!, 'VmHWM');
    console.log(`  ${label}: drained at ${Math.round(out.drainRate)} msg/s (peak RSS of the process ${out.drainPeakRssMiB.toFixed(0)} MiB)`);
    return out;
  } finally {
    await node?.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The cost of journaling deliveries (delivery counts that survive restarts): in this process, a
 * durable queue of 200,000 messages drained by a consumer that acks each one (prefetch 1000), with
 * the delivery records and with them switched off, three runs each after a warm-up, alternating; medians.
 */
async function deliveryRecordCost(): Promise<{ withRecords: number; without: number }> {
  const n = 200_000;
  const once = async (records: boolean): Promise<number> => {
    const dir = mkdtempSync(join(tmpdir(), 'junction-queues-bench-'));
    const broker = new Broker(new FileStore({ dir, fsync: 'interval' }), { queueMemoryBytes: 1024 * MiB });
    try {
      await broker.open();
      if (!records) (broker as unknown as { host: QueueHost }).host.awaitingAck = undefined;
      const q = await broker.declareQueue('q', { durable: true, maxLength: 0, maxBytes: 0 });
      const payload = Buffer.alloc(SIZE, 0x61);
      await Promise.all(Array.from({ length: n }, () => broker.sendToQueue('q', createMessage({ topic: 'q', payload, durable: true }))));
      const t0 = performance.now();
      await new Promise<void>((resolve) => {
        let got = 0;
        q.consume({ prefetch: 1000, autoAck: false, creditMode: false }, (d, c) => setImmediate(() => {
          void c.ack(d.tag);
          if (++got === n) resolve();
        }));
      });
      await broker.store.flush();
      return n / ((performance.now() - t0) / 1000);
    } finally {
      await broker.close();
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const withRecords: number[] = [];
  const without: number[] = [];
  await once(true); // warm-up (JIT), not counted
  for (let r = 0; r < 3; r++) {
    withRecords.push(await once(true));
    without.push(await once(false));
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[1];
  return { withRecords: median(withRecords), without: median(without) };
}

async function emptyStart(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'junction-queues-bench-'));
  const free = await freePorts(LISTENERS.length, '127.0.0.1');
  const ports = Object.fromEntries(LISTENERS.map((l, i) => [l, free[i]])) as JunctionPorts;
  const node = new JunctionNode({ name: 'bench-empty', host: '127.0.0.1', dataDir: dir, ports, logLevel: 'warn' });
  try {
    return await timedStart(node);
  } finally {
    await node.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runQueuesBench(): Promise<void> {
  console.log(`deep durable queue, ${N} x ${SIZE}-byte persistent STOMP messages, ${PRODUCERS} producers, no consumer while filling`);
  const empty = await emptyStart();
  console.log(`  start of an empty node (for reference): ${(empty / 1000).toFixed(2)} s`);
  const budget = `${DEFAULT_QUEUE_MEMORY_BYTES / MiB} MiB`;
  const paged = await run(`paged (queues.memoryBytes ${budget}, default)`, DEFAULT_QUEUE_MEMORY_BYTES, true);
  if (PAGED_ONLY) {
    console.log(`\n| figure | paged (${budget} budget) |`);
    console.log('|---|---|');
    console.log(`| publish rate, no consumer | ${Math.round(paged.publishRate)} msg/s |`);
    console.log(`| peak broker RSS while filling | ${paged.peakRssMiB.toFixed(0)} MiB |`);
    console.log(`| restart after a clean stop (index snapshot): time to ready | ${(paged.restartMs! / 1000).toFixed(2)} s (empty node: ${(empty / 1000).toFixed(2)} s) |`);
    console.log(`| restart after kill -9 (periodic snapshot + replay): time to ready | ${(paged.crashRestartMs! / 1000).toFixed(2)} s (index from the ${paged.crashRestartFrom}) |`);
    console.log(`| restart after kill -9 with no snapshot (full journal scan): time to ready | ${(paged.fullScanRestartMs! / 1000).toFixed(2)} s |`);
    console.log(`| RSS / V8 heap after the restart | ${paged.rssAfterRestartMiB!.toFixed(0)} MiB / ${paged.heapAfterRestartMiB!.toFixed(0)} MiB |`);
    console.log(`| memory per queued paged message (heap + array buffers after GC) | ${paged.indexBytesPerMessage!.toFixed(1)} bytes |`);
    console.log(`| drain rate (from disk) | ${Math.round(paged.drainRate)} msg/s |`);
    printComparison([['Junction, paged', paged]], await runRabbits());
    return;
  }
  const inMemory = await run('in memory (queues.memoryBytes 8 GiB)', 8 * 1024 * MiB, false);
  const deliveries = await deliveryRecordCost();
  console.log(`\n| figure | paged (${budget} budget) | in memory |`);
  console.log('|---|---|---|');
  console.log(`| publish rate, no consumer | ${Math.round(paged.publishRate)} msg/s | ${Math.round(inMemory.publishRate)} msg/s |`);
  console.log(`| peak broker RSS while filling | ${paged.peakRssMiB.toFixed(0)} MiB | ${inMemory.peakRssMiB.toFixed(0)} MiB |`);
  console.log(`| bytes on disk per message (journal) | ${paged.diskBytesPerMessage.toFixed(1)} | ${inMemory.diskBytesPerMessage.toFixed(1)} |`);
  console.log(`| restart after a clean stop (index snapshot): time to ready | ${(paged.restartMs! / 1000).toFixed(2)} s (empty node: ${(empty / 1000).toFixed(2)} s) | |`);
  console.log(`| restart after kill -9 (periodic snapshot + replay): time to ready | ${(paged.crashRestartMs! / 1000).toFixed(2)} s (index from the ${paged.crashRestartFrom}) | |`);
  console.log(`| restart after kill -9 with no snapshot (full journal scan): time to ready | ${(paged.fullScanRestartMs! / 1000).toFixed(2)} s | |`);
  console.log(`| RSS / V8 heap after the restart | ${paged.rssAfterRestartMiB!.toFixed(0)} MiB / ${paged.heapAfterRestartMiB!.toFixed(0)} MiB | |`);
  console.log(`| memory per queued paged message (index: heap + array buffers after GC) | ${paged.indexBytesPerMessage!.toFixed(1)} bytes | |`);
  console.log(`| recovery of the backlog (store + broker open, in process, index from the ${paged.recoveredFrom}) | ${(paged.recoverMs! / 1000).toFixed(2)} s | |`);
  console.log(`| drain rate | ${Math.round(paged.drainRate)} msg/s (from disk, after the restart) | ${Math.round(inMemory.drainRate)} msg/s |`);
  console.log(`| paged drain / in-memory drain | ${((100 * paged.drainRate) / inMemory.drainRate).toFixed(0)}% | |`);
  console.log(`\ndelivery records (delivery counts across restarts), in process, 200,000 acked deliveries: ${Math.round(deliveries.withRecords)} msg/s with them, ${Math.round(deliveries.without)} msg/s without (${(100 - (100 * deliveries.withRecords) / deliveries.without).toFixed(0)}% slower)`);
  printComparison([['Junction, paged', paged], ['Junction, in memory', inMemory]], await runRabbits());
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await runQueuesBench();
