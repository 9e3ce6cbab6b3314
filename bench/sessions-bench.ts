/**
 * Offline MQTT persistent sessions benchmark (issue 14): S sessions (clean=false) subscribe at
 * QoS 1 to a topic each and disconnect; then M QoS 1 messages per session are published, round
 * robin over the sessions, so every session holds M queued messages on disk (queues.memoryBytes
 * 64 MiB, the default; the rest pages). Printed: publish rate, peak broker RSS, RSS and heap with
 * the backlog, restart after kill -9 (the newest periodic index snapshot, then the journal after
 * it) and after a clean stop (index snapshot): time to ready and RSS, and a sample of sessions
 * reconnecting to check they get all M.
 *
 * SESSIONS_BENCH_SESSIONS (default 10,000) and SESSIONS_BENCH_PER (default 100: 1 M messages, a few
 * minutes on a 2-core VM); the 10,000 x 1,000 = 10 M is SESSIONS_BENCH_PER=1000.
 *
 *   npm run bench -- sessions      or      node dist/bench/sessions-bench.js
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { JunctionNode, LISTENERS, type JunctionPorts } from '../scripts/lib/junction-node.js';
import { freePorts } from '../scripts/lib/ports.js';
import { metric, procStatus, timedStart } from './node-probes.js';
import { jsonLineChild } from './peers.js';

const LOADGEN = fileURLToPath(new URL('./mqtt-sessions-loadgen.js', import.meta.url));
const SESSIONS = Number(process.env.SESSIONS_BENCH_SESSIONS ?? '10000') || 10_000;
const PER = Number(process.env.SESSIONS_BENCH_PER ?? '100') || 100;
const MiB = 1024 * 1024;

function phase(args: object): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let result: Record<string, unknown> | undefined;
    const p = jsonLineChild(LOADGEN, args, (o) => {
      if (o.done) result = o;
    });
    p.on('exit', (code) => (code || !result ? reject(new Error(`loadgen exited with ${code}`)) : resolve(result)));
  });
}

export async function runSessionsBench(): Promise<void> {
  const total = SESSIONS * PER;
  console.log(`${SESSIONS} offline MQTT persistent sessions (clean=false, QoS 1), ${PER} queued 100-byte messages each (${total} in all)`);
  const dir = mkdtempSync(join(tmpdir(), 'junction-sessions-bench-'));
  const free = await freePorts(LISTENERS.length, '127.0.0.1');
  const ports = Object.fromEntries(LISTENERS.map((l, i) => [l, free[i]])) as JunctionPorts;
  const node = new JunctionNode({ name: 'bench-sessions', host: '127.0.0.1', dataDir: dir, ports, logLevel: 'warn' }, { readyTimeoutMs: 600_000 });
  try {
    await node.start();
    const sub = await phase({ phase: 'subscribe', port: ports.mqtt, sessions: SESSIONS });
    console.log(`  ${SESSIONS} sessions subscribed and disconnected in ${Number(sub.seconds).toFixed(1)} s`);
    const pub = await phase({ phase: 'publish', port: ports.mqtt, sessions: SESSIONS, perSession: PER });
    const peak = procStatus(node.pid!, 'VmHWM');
    const rss = procStatus(node.pid!, 'VmRSS');
    const heap = (await metric(ports.http, 'nodejs_heap_size_used_bytes')) / MiB;
    const paged = await metric(ports.http, 'junction_queue_paged_messages');
    console.log(`  published at ${Math.round(Number(pub.rate))} msg/s; peak RSS ${peak.toFixed(0)} MiB, RSS now ${rss.toFixed(0)} MiB, heap ${heap.toFixed(0)} MiB, ${paged} messages paged`);
    await node.kill('SIGKILL');
    const crashMs = await timedStart(node);
    const crashRss = procStatus(node.pid!, 'VmRSS');
    console.log(`  restart after kill -9 (periodic snapshot and replay): ready in ${(crashMs / 1000).toFixed(2)} s, RSS ${crashRss.toFixed(0)} MiB`);
    await node.stop();
    const cleanMs = await timedStart(node);
    const cleanRss = procStatus(node.pid!, 'VmRSS');
    const cleanHeap = (await metric(ports.http, 'nodejs_heap_size_used_bytes')) / MiB;
    console.log(`  restart after a clean stop (index snapshot): ready in ${(cleanMs / 1000).toFixed(2)} s, RSS ${cleanRss.toFixed(0)} MiB, heap ${cleanHeap.toFixed(0)} MiB`);
    const s = await phase({ phase: 'sample', port: ports.mqtt, sessions: SESSIONS, perSession: PER, sample: 10 });
    const received = s.received as number[];
    console.log(`  10 sessions reconnected: received ${received.join(', ')} (expected ${PER} each)`);
    console.log('\n| figure | value |');
    console.log('|---|---|');
    console.log(`| sessions x messages | ${SESSIONS} x ${PER} = ${total} |`);
    console.log(`| publish rate (QoS 1, 2 publishers) | ${Math.round(Number(pub.rate))} msg/s |`);
    console.log(`| peak broker RSS while filling / RSS after | ${peak.toFixed(0)} / ${rss.toFixed(0)} MiB |`);
    console.log(`| restart after kill -9: ready, RSS | ${(crashMs / 1000).toFixed(2)} s, ${crashRss.toFixed(0)} MiB |`);
    console.log(`| restart after a clean stop: ready, RSS | ${(cleanMs / 1000).toFixed(2)} s, ${cleanRss.toFixed(0)} MiB |`);
  } finally {
    await node.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await runSessionsBench();
