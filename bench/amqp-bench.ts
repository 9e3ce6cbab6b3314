/**
 * AMQP 1.0 benchmark: durable queue throughput 1 -> 1 and 4 -> 4 with unsettled sends (each
 * settled `accepted` once stored) and consumers accepting every message, and pre-settled
 * throughput 1 -> 1 (at most once both ways), 100-byte bodies. Against Junction (file store in a
 * temporary directory, fsync `interval`) and RabbitMQ's AMQP 1.0 plugin when Debian's
 * rabbitmq-server is installed (started here with temporary directories and ports, stopped at the
 * end). The load generator (bench/amqp-loadgen.ts) is the same rhea client for both brokers, in
 * child processes. AMQP_BENCH_SCALE (default 1) multiplies the message counts.
 *
 *   npm run bench -- amqp      or      node dist/bench/amqp-bench.js
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startBroker } from '../index.js';
import { RABBIT_MISSING, runLoad, startRabbitmq } from './peers.js';

const LOADGEN = fileURLToPath(new URL('./amqp-loadgen.js', import.meta.url));
const SCALE = Number(process.env.AMQP_BENCH_SCALE ?? '1') || 1;
const SIZE = 100;

interface Scenario {
  name: string;
  producers: number;
  consumers: number;
  address: string;
  /** Messages per producer. */
  count: number;
  presettled: boolean;
  durable: boolean;
}

function scenarios(): Scenario[] {
  const q1 = Math.round(30_000 * SCALE);
  const q4 = Math.round(15_000 * SCALE);
  const ps = Math.round(60_000 * SCALE);
  return [
    { name: 'durable queue 1->1, unsettled + accepted', producers: 1, consumers: 1, address: '/queue/bench.q1', count: q1, presettled: false, durable: true },
    { name: 'durable queue 4->4, unsettled + accepted', producers: 4, consumers: 4, address: '/queue/bench.q4', count: q4, presettled: false, durable: true },
    { name: 'queue 1->1, pre-settled both ways', producers: 1, consumers: 1, address: '/queue/bench.ps', count: ps, presettled: true, durable: false },
  ];
}

interface Target {
  port: number;
  user?: string;
  password?: string;
  /** Terminus durability the load generator asks for (RabbitMQ 3 declares durable queues for durable termini). */
  terminusDurable: number;
}

async function runScenario(t: Target, sc: Scenario): Promise<number> {
  const common = { port: t.port, user: t.user, password: t.password, address: sc.address, presettled: sc.presettled, terminusDurable: t.terminusDurable };
  const total = sc.producers * sc.count;
  return runLoad({
    name: sc.name, script: LOADGEN,
    consumers: Array.from({ length: sc.consumers }, () => ({ role: 'consumer', credit: 1000, ...common })),
    producers: Array.from({ length: sc.producers }, () => ({ role: 'producer', count: sc.count, size: SIZE, durable: sc.durable, ...common })),
    total,
    deliveries: total,
  });
}

async function measure(label: string, t: Target): Promise<number[]> {
  const out: number[] = [];
  // Warm-up (JIT, connections, queue creation), not counted.
  for (const sc of scenarios()) await runScenario(t, { ...sc, count: Math.ceil(sc.count / 10) });
  for (const sc of scenarios()) {
    const rate = await runScenario(t, sc);
    out.push(rate);
    console.log(`  ${label.padEnd(30)} ${sc.name.padEnd(42)} ${Math.round(rate).toString().padStart(9)} msg/s`);
  }
  return out;
}

export async function runAmqpBench(): Promise<void> {
  console.log(`AMQP 1.0: ${SIZE}-byte bodies, scale ${SCALE}; load generator: rhea clients in child processes`);
  const results: Record<string, number[]> = {};
  const dir = mkdtempSync(join(tmpdir(), 'junction-amqp-bench-'));
  try {
    const b = await startBroker({ dataDir: dir, host: '127.0.0.1', logger: false, protocols: ['amqp'], ports: { amqp: 'auto', http: 0 } });
    try {
      results.junction = await measure('junction (file, fsync interval)', { port: b.ports.amqp!, user: 'guest', password: 'guest', terminusDurable: 0 });
    } finally {
      await b.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const rdir = mkdtempSync(join(tmpdir(), 'junction-amqp-bench-rabbit-'));
  try {
    const rabbit = await startRabbitmq(rdir, { plugin: 'rabbitmq_amqp1_0', settleMs: 3000 });
    if (!rabbit) {
      console.log(`  ${RABBIT_MISSING}`);
    } else {
      try {
        results.rabbitmq = await measure('rabbitmq 3 (rabbitmq_amqp1_0)', { port: rabbit.port, user: 'guest', password: 'guest', terminusDurable: 2 });
      } finally {
        await rabbit.stop();
      }
    }
  } finally {
    rmSync(rdir, { recursive: true, force: true });
  }
  if (results.rabbitmq) {
    console.log('  ratios (junction / rabbitmq):');
    scenarios().forEach((sc, i) => console.log(`    ${sc.name.padEnd(42)} ${(results.junction[i] / results.rabbitmq[i]).toFixed(2)}x`));
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runAmqpBench();
}
