/**
 * In-process core figures: publish -> route -> deliver (1->1 and 1->100 transient subscribers),
 * wildcard routing among 100,000 subscriptions, and the qlobber match rate on its own.
 */
import { pathToFileURL } from 'node:url';
import { Broker } from '../core/broker.js';
import { createMessage } from '../core/message.js';
import { TopicRouter } from '../core/router.js';
import { MemoryStore } from '../core/storage/memory-store.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 3);

function rate(n: number, startNs: bigint): number {
  return n / (Number(process.hrtime.bigint() - startNs) / 1e9);
}

async function fanOut(subscribers: number): Promise<number> {
  const broker = new Broker(new MemoryStore());
  await broker.open();
  let delivered = 0;
  for (let i = 0; i < subscribers; i++) {
    const name = `sub.${i}`;
    const q = await broker.declareQueue(name, { autoDelete: true, exclusiveOwner: `c${i}` });
    await broker.bindQueue(name, 'bench.topic');
    q.consume({ prefetch: 0, autoAck: true, creditMode: false, owner: `c${i}` }, () => { delivered++; });
  }
  const payload = Buffer.alloc(100, 1);
  const deadline = Date.now() + seconds * 1000;
  const start = process.hrtime.bigint();
  let published = 0;
  while (Date.now() < deadline) {
    for (let i = 0; i < 10_000; i++) {
      void broker.publish({ topic: 'bench.topic', payload, headers: {}, timestamp: 0, durable: false, source: 'core' });
    }
    published += 10_000;
  }
  const deliveredRate = rate(delivered, start);
  await broker.close();
  if (delivered !== published * subscribers) throw new Error(`lost deliveries: ${delivered} of ${published * subscribers}`);
  return deliveredRate;
}

async function wildcardRouting(): Promise<{ routed: number; matchRate: number }> {
  const broker = new Broker(new MemoryStore());
  await broker.open();
  let delivered = 0;
  for (let i = 0; i < 100_000; i++) {
    const name = `dev.${i}`;
    const q = await broker.declareQueue(name, { autoDelete: true });
    await broker.bindQueue(name, i % 2 === 0 ? `devices.${i}.*` : `devices.${i}.#`);
    q.consume({ prefetch: 0, autoAck: true, creditMode: false }, () => { delivered++; });
  }
  const topics = Array.from({ length: 100_000 }, (_, i) => `devices.${i}.temp`);
  const start = process.hrtime.bigint();
  let n = 0;
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    for (let i = 0; i < 10_000; i++) {
      void broker.publish(createMessage({ topic: topics[(n + i) % topics.length], payload: Buffer.alloc(16) }));
    }
    n += 10_000;
  }
  const routed = rate(delivered, start);
  await broker.close();
  // Uncached matching (a new topic each time) measures qlobber itself.
  const router = new TopicRouter<number>();
  for (let i = 0; i < 100_000; i++) router.bind(`s${i}`, { pattern: `devices.${i}.*`, target: i });
  const t0 = process.hrtime.bigint();
  let matched = 0;
  for (let i = 0; i < 200_000; i++) matched += router.match(`devices.${i % 100_000}.x${i}`).length;
  if (matched !== 200_000) throw new Error(`expected one match per topic, got ${matched}`);
  return { routed, matchRate: rate(200_000, t0) };
}

export async function runCoreBench(): Promise<Record<string, number>> {
  const oneToOne = await fanOut(1);
  const oneToHundred = await fanOut(100);
  const { routed, matchRate } = await wildcardRouting();
  const figures = {
    'core 1->1 transient deliveries/s': Math.round(oneToOne),
    'core 1->100 transient deliveries/s': Math.round(oneToHundred),
    'core wildcard routing among 100,000 subscriptions, deliveries/s': Math.round(routed),
    'qlobber uncached matches/s (100,000 patterns)': Math.round(matchRate),
  };
  for (const [k, v] of Object.entries(figures)) console.log(`${k.padEnd(66)} ${v.toLocaleString('en-US')}`);
  console.log(`target 1->1 >= 1,000,000/s: ${oneToOne >= 1_000_000 ? 'met' : 'NOT met'} (${(oneToOne / 1_000_000).toFixed(2)}x)`);
  return figures;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await runCoreBench();
