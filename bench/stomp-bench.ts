/**
 * STOMP benchmark: persistent queue throughput with client-individual acks (1 -> 1 and 4 -> 4)
 * and topic fan-out 1 -> 50, 100-byte bodies, against Junction (file store in a temp dir, fsync
 * `interval` and `always`) and RabbitMQ's STOMP plugin when Debian's rabbitmq-server is
 * installed (started here on temporary ports and directories, stopped at the end). The load
 * generator (bench/stomp-loadgen.ts) is the same raw TCP client for every broker, in child
 * processes. STOMP_BENCH_SCALE (default 1) multiplies the message counts.
 *
 *   npm run bench -- stomp      or      node dist/bench/stomp-bench.js
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startBroker } from '../index.js';
import { RABBIT_MISSING, runLoad, startRabbitmq } from './peers.js';

const LOADGEN = fileURLToPath(new URL('./stomp-loadgen.js', import.meta.url));
const SCALE = Number(process.env.STOMP_BENCH_SCALE ?? '1') || 1;
const SIZE = 100;

interface Scenario {
  name: string;
  unit: string;
  producers: number;
  consumers: number;
  consumerConns: number;
  dest: string;
  /** Messages per producer. */
  count: number;
  /** Messages each consumer socket must receive. */
  perConsumer: number;
  persistent: boolean;
  ack: 'auto' | 'client-individual';
  /** Deliveries counted for the rate. */
  deliveries: number;
}

function scenarios(): Scenario[] {
  const q1 = Math.round(20_000 * SCALE);
  const q4 = Math.round(10_000 * SCALE);
  const fan = Math.round(2_000 * SCALE);
  return [
    { name: 'queue 1->1 persistent, client-individual', unit: 'msg/s', producers: 1, consumers: 1, consumerConns: 1, dest: '/queue/bench.q1', count: q1, perConsumer: q1, persistent: true, ack: 'client-individual', deliveries: q1 },
    { name: 'queue 4->4 persistent, client-individual', unit: 'msg/s', producers: 4, consumers: 4, consumerConns: 1, dest: '/queue/bench.q4', count: q4, perConsumer: q4, persistent: true, ack: 'client-individual', deliveries: 4 * q4 },
    { name: 'topic fan-out 1->50', unit: 'deliveries/s', producers: 1, consumers: 1, consumerConns: 50, dest: '/topic/bench.fan', count: fan, perConsumer: fan, persistent: false, ack: 'auto', deliveries: 50 * fan },
  ];
}

/**
 * Runs one scenario: consumers first, then producers; the clock runs from the producers' start
 * until every message has reached a consumer (queue consumers compete, so they report progress
 * and the parent stops on the total; fan-out consumers report when each socket has them all).
 */
async function runScenario(port: number, sc: Scenario): Promise<number> {
  const consumer = { role: 'consumer', port, dest: sc.dest, count: sc.ack === 'auto' ? sc.perConsumer : 0, size: SIZE, persistent: sc.persistent, window: 0, ack: sc.ack, prefetch: 1000, conns: sc.consumerConns };
  const producer = { role: 'producer', port, dest: sc.dest, count: sc.count, size: SIZE, persistent: sc.persistent, window: 500, ack: sc.ack, prefetch: 0, conns: 1 };
  return runLoad({
    name: sc.name, script: LOADGEN,
    consumers: Array.from({ length: sc.consumers }, () => consumer),
    producers: Array.from({ length: sc.producers }, () => producer),
    total: sc.producers * sc.count,
    // Fan-out consumers report when each of their sockets has every message.
    doneReports: sc.ack === 'auto' ? sc.consumers : undefined,
    deliveries: sc.deliveries,
  });
}

async function measure(label: string, port: number): Promise<number[]> {
  const out: number[] = [];
  // Warm-up (JIT, connection set-up, queue creation), not counted.
  const warm = scenarios()[0];
  await runScenario(port, { ...warm, count: Math.ceil(warm.count / 10), deliveries: Math.ceil(warm.count / 10) });
  for (const sc of scenarios()) {
    const rate = await runScenario(port, sc);
    out.push(rate);
    console.log(`  ${label.padEnd(26)} ${sc.name.padEnd(42)} ${Math.round(rate).toString().padStart(9)} ${sc.unit}`);
  }
  return out;
}

export async function runStompBench(): Promise<void> {
  console.log(`STOMP: ${SIZE}-byte bodies, scale ${SCALE}; load generator: raw TCP STOMP 1.2 in child processes`);
  const results: Record<string, number[]> = {};
  for (const fsync of ['interval', 'always'] as const) {
    const dir = mkdtempSync(join(tmpdir(), 'junction-stomp-bench-'));
    const b = await startBroker({ dataDir: dir, host: '127.0.0.1', logger: false, storage: { fsync } as never, protocols: ['stomp'], ports: { stomp: 'auto', http: 0 } });
    try {
      results[`junction (fsync ${fsync})`] = await measure(`junction (fsync ${fsync})`, b.ports.stomp!);
    } finally {
      await b.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const rdir = mkdtempSync(join(tmpdir(), 'junction-stomp-bench-rabbit-'));
  try {
    const rabbit = await startRabbitmq(rdir, { plugin: 'rabbitmq_stomp', listenerKey: 'stomp.listeners.tcp.1' });
    if (!rabbit) {
      console.log(`  ${RABBIT_MISSING}`);
    } else {
      try {
        results.rabbitmq = await measure('rabbitmq 3 (rabbitmq_stomp)', rabbit.port);
      } finally {
        await rabbit.stop();
      }
    }
  } finally {
    rmSync(rdir, { recursive: true, force: true });
  }
  if (results.rabbitmq) {
    console.log('  ratios (junction / rabbitmq):');
    const names = scenarios().map((s) => s.name);
    for (const [label, figures] of Object.entries(results)) {
      if (label === 'rabbitmq') continue;
      console.log(`    ${label}: ` + figures.map((f, i) => `${names[i]} ${(f / results.rabbitmq[i]).toFixed(2)}x`).join('; '));
    }
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runStompBench();
}
